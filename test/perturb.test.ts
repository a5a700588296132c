import { describe, expect, it } from 'vitest';
import { projectL1, projectL1Box, projectL2, projectLinf, rotateTranslate } from '../src/index.ts';
import { assertClose } from './_helpers/close.ts';
import { projL1BoxRef, projL1Ref, projL2Ref, projLinfRef, spatialRef } from './_helpers/perturb_reference.ts';
import { rng, uniform } from './_helpers/rng.ts';

describe('public functional API (default engine, new arrays)', () => {
  const batch = 4, dim = 784;
  const r = rng(5);
  const delta = uniform(r, batch * dim, -0.5, 0.5), x0 = uniform(r, batch * dim, 0, 1);
  const eps = Float32Array.of(0.5, 2, 10, 100);

  it('projections match the float64 references and leave their inputs alone', async () => {
    const before = delta.slice();
    assertClose('linf', await projectLinf(delta, x0, 0.3, batch), projLinfRef(delta, x0, new Float32Array(batch).fill(0.3), batch), { atol: 1e-7 });
    assertClose('l2', await projectL2(delta, x0, eps, batch), projL2Ref(delta, x0, eps, batch), { atol: 1e-6 });
    assertClose('l1', await projectL1(delta, eps, batch), projL1Ref(delta, null, eps, batch), { atol: 1e-5 });
    assertClose('l1 then clip', await projectL1(delta, eps, batch, { clipTo: x0 }), projL1Ref(delta, x0, eps, batch), { atol: 1e-5 });
    assertClose('l1 ∩ box', await projectL1Box(delta, x0, eps, batch), projL1BoxRef(delta, x0, eps, batch), { atol: 1e-5 });
    expect(delta).toEqual(before);
    expect(await projectL2(delta, null, 1e9, batch)).toEqual(delta);
  });

  it('rotateTranslate matches the reference', async () => {
    const s = [3, 28, 28, 1] as const;
    const img = uniform(r, 3 * 28 * 28, 0, 1), p = Float32Array.of(0.2, 1.5, -2, 0, 0, 0, -0.5, 3, 3);
    assertClose('spatial', await rotateTranslate(img, s, p), spatialRef(img, ...s, p), { atol: 2e-5, rtol: 1e-4 });
  });

  it.each([
    ['negative ε', () => projectLinf(delta, x0, -1, batch), /eps must be finite and ≥ 0/],
    ['NaN ε', () => projectL1(delta, [1, NaN, 1, 1], batch), /eps must be finite and ≥ 0, got eps\[1\] = NaN/],
    ['ε count', () => projectL2(delta, x0, [1, 2], batch), /eps has 2 values; give one number for all examples or 4 values \(batch = 4\), one per example/],
    ['ε array of one value', () => projectL2(delta, x0, [1], batch), /eps has 1 values; give one number for all examples or 4 values/],
    ['ε of the wrong type', () => projectLinf(delta, x0, '0.3' as never, batch), /eps must be a number or an array of 4 numbers/],
    ['x0 missing (L1 ∩ box)', () => projectL1Box(delta, undefined as never, 1, batch), /projectL1Box: x0 \(the clean inputs\) is required/],
    ['length not divisible by batch', () => projectL1Box(delta, x0, 1, 5), /delta has length 3136, not divisible by batch 5/],
    ['NaN in δ', () => projectL1(Float32Array.of(0, NaN), 1, 1), /delta must be finite, got delta\[1\] = NaN/],
    ['x0 outside [0, 1]', () => projectL1Box(Float32Array.of(0, 0), Float32Array.of(0.5, 1.5), 1, 1), /x0 must lie in \[0, 1\], got x0\[1\] = 1.5/],
    ['x0 length', () => projectLinf(delta, x0.subarray(1), 1, batch), /x0 has length 3135, expected 3136/],
    ['batch 0', () => projectL2(delta, null, 1, 0), /batch must be an integer ≥ 1/],
    ['NaN image', () => rotateTranslate(Float32Array.of(NaN), [1, 1, 1, 1], new Float32Array(3)), /images must be finite/],
    ['image shape', () => rotateTranslate(new Float32Array(5), [1, 2, 2, 1], new Float32Array(3)), /images has length 5, expected batch·h·w·c = 4/],
    ['params length', () => rotateTranslate(new Float32Array(4), [1, 2, 2, 1], new Float32Array(2)), /params must be a Float32Array of 3·batch = 3/],
  ])('%s → clear error, as a rejected promise (never a synchronous throw)', async (_name, call, msg) => {
    let result: Promise<unknown> | undefined;
    expect(() => { result = call(); }).not.toThrow();
    await expect(result).rejects.toThrow(msg);
  });
});
