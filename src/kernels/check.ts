// Argument checks shared by the kernel wrappers: every error names the argument and the value.
import type { F32Buf } from '../wasm/memory.ts';

/** Throws unless `value` is an integer ≥ min. */
export function checkInt(fn: string, name: string, value: number, min = 0): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`${fn}: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
  return value;
}

/** Throws unless `value` is finite. */
export function checkFinite(fn: string, name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${fn}: ${name} must be a finite number, got ${value}`);
  return value;
}

/** Throws unless `buf` is a buffer of at least `need` floats (exactly `need` when `exact`). */
export function checkBuf(fn: string, name: string, buf: F32Buf | null | undefined, need: number, exact = false): F32Buf {
  if (!buf || typeof buf.ptr !== 'number' || typeof buf.length !== 'number') throw new TypeError(`${fn}: ${name} must be a buffer {ptr, length}, got ${buf}`);
  if (buf.ptr % 4 !== 0 || buf.ptr <= 0) throw new RangeError(`${fn}: ${name}.ptr must be a positive multiple of 4, got ${buf.ptr}`);
  if (exact ? buf.length !== need : buf.length < need) {
    throw new RangeError(`${fn}: ${name} has ${buf.length} floats, expected ${exact ? '' : 'at least '}${need}`);
  }
  return buf;
}

/** A run of i32 values in WASM memory (e.g. labels): `ptr` is a byte address, `length` counts ints. */
export interface I32Buf {
  readonly ptr: number;
  readonly length: number;
}

/** Throws unless `buf` is an i32 buffer of at least `need` ints (exactly `need` when `exact`). */
export function checkI32Buf(fn: string, name: string, buf: I32Buf | null | undefined, need: number, exact = false): I32Buf {
  if (!buf || typeof buf.ptr !== 'number' || typeof buf.length !== 'number') throw new TypeError(`${fn}: ${name} must be an i32 buffer {ptr, length}, got ${buf}`);
  if (buf.ptr % 4 !== 0 || buf.ptr <= 0) throw new RangeError(`${fn}: ${name}.ptr must be a positive multiple of 4, got ${buf.ptr}`);
  if (exact ? buf.length !== need : buf.length < need) {
    throw new RangeError(`${fn}: ${name} has ${buf.length} ints, expected ${exact ? '' : 'at least '}${need}`);
  }
  return buf;
}

/**
 * Throws when the first `lenA`/`lenB` 4-byte elements of two buffers overlap; with `allowSame`,
 * exactly the same buffer (in-place use) passes.
 */
export function checkDisjoint(fn: string, nameA: string, a: { ptr: number } | null | undefined, lenA: number,
                              nameB: string, b: { ptr: number } | null | undefined, lenB: number, allowSame = false): void {
  if (!a || !b || lenA === 0 || lenB === 0) return;
  if (allowSame && a.ptr === b.ptr && lenA === lenB) return;
  if (a.ptr < b.ptr + 4 * lenB && b.ptr < a.ptr + 4 * lenA) {
    throw new RangeError(`${fn}: ${nameA} and ${nameB} overlap${allowSame ? ' (only exact in-place use is allowed)' : ''}`);
  }
}

/** Throws unless `value` is one of `allowed`. */
export function checkOneOf<T extends string>(fn: string, name: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) throw new RangeError(`${fn}: ${name} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value;
}
