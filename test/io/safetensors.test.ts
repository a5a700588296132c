import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, readSafetensors, serializeSafetensors, toFloat32, writeSafetensors, MAX_HEADER_BYTES } from '../../src/io/safetensors.ts';

/** A file with a hand-written header (padded to 8) and `dataBytes` bytes of data. */
function rawFile(header: unknown, dataBytes: number, headerLen?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen ?? json.length), true);
  out.set(json, 8);
  return out;
}

describe('safetensors round trip', () => {
  it('writes, reads back identically, sorted and padded like the reference writer', () => {
    const w = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 3);
    const b = new Float64Array([1.5, -2]);
    const l = new Int32Array([7, -1, 3]);
    const bytes = serializeSafetensors({ 'fc.weight': { shape: [3, 4], data: w }, 'a.bias': { shape: [2], data: b }, labels: { shape: [3], data: l }, empty: { shape: [0, 4], data: new Float32Array(0) } }, { step: '12' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const f = parseSafetensors(bytes);
    expect(f.metadata).toEqual({ step: '12' });
    expect([...f.tensors.keys()]).toEqual(['a.bias', 'empty', 'fc.weight', 'labels']);
    expect(f.tensors.get('fc.weight')!.shape).toEqual([3, 4]);
    expect(toFloat32(f.tensors.get('fc.weight')!)).toEqual(w);
    expect(Array.from(toFloat32(f.tensors.get('a.bias')!))).toEqual([1.5, -2]);
    expect(Array.from(toFloat32(f.tensors.get('labels')!))).toEqual([7, -1, 3]);
    expect(f.tensors.get('empty')!.bytes.length).toBe(0);
    // F64 (8-byte) sorts before the 4-byte dtypes.
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header['a.bias'].data_offsets).toEqual([0, 16]);
  });

  it('writes atomically (no temp file left) and reads from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-'));
    const path = join(dir, 'm.safetensors');
    writeSafetensors(path, { x: { shape: [2], data: new Float32Array([1, 2]) } });
    writeSafetensors(path, { x: { shape: [2], data: new Float32Array([3, 4]) } });
    expect(readdirSync(dir)).toEqual(['m.safetensors']);
    expect(toFloat32(readSafetensors(path).tensors.get('x')!)).toEqual(new Float32Array([3, 4]));
    expect(readFileSync(path).length).toBeGreaterThan(8);
  });

  it('rejects shape/data mismatches when writing', () => {
    expect(() => serializeSafetensors({ x: { shape: [3], data: new Float32Array(2) } })).toThrow(/x.*3 elements, data has 2/);
    expect(() => serializeSafetensors({ x: { dtype: 'F64', shape: [2], data: new Float32Array(2) } })).toThrow(/dtype F64 does not match/);
  });
});

describe('safetensors: corrupt, truncated and hostile files', () => {
  const ok = { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  it.each([
    ['too short', new Uint8Array(4), /too short/],
    ['oversized header length', rawFile(ok, 8, MAX_HEADER_BYTES + 1), /exceeds the limit/],
    ['header past the end', rawFile(ok, 8, 10_000), /runs past the end/],
    ['not JSON', rawFile('{"x": ', 0), /not valid JSON/],
    ['not an object', rawFile('[1, 2]', 0), /must start with '\{'/],
    ['unknown dtype', rawFile({ x: { dtype: 'F31', shape: [2], data_offsets: [0, 8] } }, 8), /unknown dtype "F31"/],
    ['shape × dtype ≠ range', rawFile({ x: { dtype: 'F64', shape: [2], data_offsets: [0, 8] } }, 8), /16 bytes but data_offsets \[0, 8\] span 8/],
    ['offsets past the end', rawFile(ok, 4), /run past the end of the data/],
    ['negative shape', rawFile({ x: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8), /non-negative integers/],
    ['end before begin', rawFile({ x: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, 8), /end before begin/],
    ['overlap', rawFile({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /overlap/],
    ['hole', rawFile({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /hole/],
    ['trailing bytes', rawFile(ok, 12), /4 bytes after the last tensor/],
    ['duplicate key', rawFile('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4), /duplicate key 'x'/],
    ['non-string metadata', rawFile({ __metadata__: { step: 3 }, ...ok }, 8), /__metadata__.step must be a string/],
  ])('%s', (_name, bytes, msg) => {
    expect(() => parseSafetensors(bytes as Uint8Array, 'test.safetensors')).toThrow(msg as RegExp);
  });

  it('names the file in the error', () => {
    expect(() => parseSafetensors(new Uint8Array(3), 'bad.safetensors')).toThrow(/bad\.safetensors/);
  });
});
