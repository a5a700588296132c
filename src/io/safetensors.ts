// safetensors read/write (huggingface/safetensors "Format"; design.md ecosystem §2.2).
//
// File: 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON (starts with '{', may be
// right-padded with spaces), then the byte buffer. Header: {"name": {dtype, shape, data_offsets:
// [begin, end)}, "__metadata__"?: {string: string}}. The reader rejects anything the reference
// reader rejects: header too long, bad JSON, unknown dtype, shape×dtype ≠ byte range, overlaps,
// holes, bytes past the last tensor. The writer sorts by descending dtype size then name and pads
// the header to a multiple of 8 bytes, as the reference writer does; files are written atomically.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.ts';

export const MAX_HEADER_BYTES = 100_000_000;

export const DTYPE_BYTES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  F64: 8, I64: 8, U64: 8, C64: 8,
} as const;
export type Dtype = keyof typeof DTYPE_BYTES;

export interface StEntry {
  dtype: Dtype;
  shape: number[];
  /** Raw little-endian bytes (a copy, 8-byte aligned). */
  bytes: Uint8Array;
}

export interface StFile {
  tensors: Map<string, StEntry>;
  metadata: Record<string, string>;
}

/** Tensor data accepted by the writer: F32 from a Float32Array, I32 from an Int32Array, etc. */
export interface StTensor {
  dtype?: Dtype;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

function fail(what: string, msg: string): never {
  throw new Error(`safetensors ${what}: ${msg}`);
}

function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

/** Parses and validates a whole safetensors file held in memory. `what` names it in errors. */
export function parseSafetensors(file: Uint8Array, what = 'file'): StFile {
  if (file.length < 8) fail(what, `file is ${file.length} bytes, too short for the 8-byte header length`);
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(what, `header length ${n64} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  const n = Number(n64);
  if (8 + n > file.length) fail(what, `header length ${n} runs past the end of the file (${file.length} bytes): truncated?`);
  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, so it fails the '{' check as in the reference reader.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(file.subarray(8, 8 + n));
  } catch {
    fail(what, 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(what, `header must start with '{', got ${JSON.stringify(text.slice(0, 10))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    fail(what, `header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(what, 'header must be a JSON object');
  checkNoDuplicateKeys(text, what);

  const dataStart = 8 + n;
  const dataBytes = file.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(what, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(what, `__metadata__.${k} must be a string, got ${typeof v}`);
        // defineProperty: a key such as '__proto__' stays an ordinary entry.
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) fail(what, `tensor '${name}': entry must be an object`);
    if (!isDtype(info.dtype)) fail(what, `tensor '${name}': unknown dtype ${JSON.stringify(info.dtype)}`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(what, `tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(what, `tensor '${name}': data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as number[];
    if (end < begin) fail(what, `tensor '${name}': data_offsets [${begin}, ${end}] end before begin`);
    const want = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[info.dtype];
    if (end - begin !== want) {
      fail(what, `tensor '${name}': shape [${shape}] × ${info.dtype} is ${want} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    if (end > dataBytes) fail(what, `tensor '${name}': data_offsets [${begin}, ${end}] run past the end of the data (${dataBytes} bytes): truncated?`);
    entries.push({ name, dtype: info.dtype, shape: shape as number[], begin, end });
  }
  // The buffer must be covered exactly: sorted ranges abut, start at 0 and end at the file's end.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin < at) fail(what, `tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] overlap another tensor (previous ends at ${at})`);
    if (e.begin > at) fail(what, `hole in the data buffer: bytes [${at}, ${e.begin}) belong to no tensor (before '${e.name}')`);
    at = e.end;
  }
  if (at !== dataBytes) fail(what, `${dataBytes - at} bytes after the last tensor's data (buffer is ${dataBytes} bytes, tensors cover ${at})`);

  const tensors = new Map<string, StEntry>();
  for (const e of entries) {
    // A copy: aligned for typed-array views whatever the header length was.
    const bytes = new Uint8Array(e.end - e.begin);
    bytes.set(file.subarray(dataStart + e.begin, dataStart + e.end));
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, bytes });
  }
  return { tensors, metadata };
}

/** Rejects duplicate top-level keys, which JSON.parse would silently merge. */
function checkNoDuplicateKeys(text: string, what: string): void {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1) {
        let k = j + 1;
        while (text[k] === ' ' || text[k] === '\n' || text[k] === '\t' || text[k] === '\r') k++;
        if (text[k] === ':') {
          const key = JSON.parse(text.slice(i, j + 1)) as string;
          if (seen.has(key)) fail(what, `duplicate key '${key}' in the header`);
          seen.add(key);
        }
      }
      i = j;
    } else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
  }
}

/** The values of an entry as float32 (F32 directly; F64, F16, BF16 and integer dtypes converted). */
export function toFloat32(e: StEntry, name = 'tensor'): Float32Array {
  const dv = new DataView(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength);
  const count = e.bytes.length / DTYPE_BYTES[e.dtype];
  const out = new Float32Array(count);
  const get: ((i: number) => number) | undefined = {
    F32: (i: number) => dv.getFloat32(4 * i, true),
    F64: (i: number) => dv.getFloat64(8 * i, true),
    F16: (i: number) => f16ToF32(dv.getUint16(2 * i, true)),
    BF16: (i: number) => {
      const u = new Uint32Array(1);
      u[0] = dv.getUint16(2 * i, true) << 16;
      return new Float32Array(u.buffer)[0];
    },
    I32: (i: number) => dv.getInt32(4 * i, true),
    U8: (i: number) => dv.getUint8(i),
    I8: (i: number) => dv.getInt8(i),
    I64: (i: number) => Number(dv.getBigInt64(8 * i, true)),
  }[e.dtype as string];
  if (!get) throw new Error(`safetensors: ${name} has dtype ${e.dtype}, which cannot be read as float32`);
  for (let i = 0; i < count; i++) out[i] = get(i);
  return out;
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function defaultDtype(data: StTensor['data']): Dtype {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int32Array) return 'I32';
  return 'U8';
}

/** Serialises tensors and string metadata into safetensors bytes. */
export function serializeSafetensors(tensors: Record<string, StTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const names = Object.keys(tensors);
  const items = names.map((name) => {
    const t = tensors[name];
    const dtype = t.dtype ?? defaultDtype(t.data);
    const expectType = defaultDtype(t.data);
    if (dtype !== expectType) throw new Error(`serializeSafetensors: tensor '${name}': dtype ${dtype} does not match its data (${t.data.constructor.name})`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new RangeError(`serializeSafetensors: tensor '${name}': bad shape [${t.shape}]`);
    if (count !== t.data.length) throw new RangeError(`serializeSafetensors: tensor '${name}': shape [${t.shape}] has ${count} elements, data has ${t.data.length}`);
    return { name, dtype, shape: t.shape, data: t.data };
  });
  items.sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new TypeError(`serializeSafetensors: metadata '${k}' must be a string`);
  }
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const it of items) {
    const bytes = it.data.byteLength;
    header[it.name] = { dtype: it.dtype, shape: it.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = JSON.stringify(header);
  const raw = new TextEncoder().encode(json);
  const padded = Math.ceil(raw.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(raw, 8);
  out.fill(0x20, 8 + raw.length, 8 + padded);
  let at = 8 + padded;
  for (const it of items) {
    // Typed arrays are little-endian on every platform Node and Deno run on.
    out.set(new Uint8Array(it.data.buffer, it.data.byteOffset, it.data.byteLength), at);
    at += it.data.byteLength;
  }
  return out;
}

/** Reads and validates a safetensors file. */
export function readSafetensors(path: string): StFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`safetensors: cannot read ${path}: ${(err as Error).message}`);
  }
  return parseSafetensors(bytes, path);
}

/** Writes a safetensors file atomically (src/io/atomic.ts: temporary file, fsync, rename). */
export function writeSafetensors(path: string, tensors: Record<string, StTensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
