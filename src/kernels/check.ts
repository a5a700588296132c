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

/** Throws unless `value` is one of `allowed`. */
export function checkOneOf<T extends string>(fn: string, name: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) throw new RangeError(`${fn}: ${name} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value;
}
