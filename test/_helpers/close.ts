// llm.c-style checker: on mismatch, report the max difference, where it is, and the first 5 bad pairs.
import { expect } from 'vitest';

export interface Tol {
  atol?: number;
  rtol?: number;
}

export function assertClose(label: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol = {}): void {
  const atol = tol.atol ?? 1e-5;
  const rtol = tol.rtol ?? 1e-4;
  expect(got.length, `${label}: length`).toBe(want.length);
  let maxDiff = 0;
  let maxAt = -1;
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    const d = Math.abs(g - w);
    const ok = d <= atol + rtol * Math.abs(w) || (Number.isNaN(g) && Number.isNaN(w));
    if (!(d <= maxDiff) || Number.isNaN(d)) {
      maxDiff = Number.isNaN(d) ? Infinity : d;
      maxAt = i;
    }
    if (!ok && bad.length < 5) bad.push(`[${i}] got ${g} want ${w}`);
  }
  if (bad.length) {
    throw new Error(`${label}: mismatch (maxdiff ${maxDiff} at ${maxAt}; atol ${atol}, rtol ${rtol}); first bad: ${bad.join('; ')}`);
  }
}

/** Bit-exact comparison, with the same report. */
export function assertEqualBits(label: string, got: Float32Array, want: Float32Array): void {
  assertClose(label, got, want, { atol: 0, rtol: 0 });
}
