import { describe, expect, it } from 'vitest';
import { norms, randomStart, sign, slideDirection, type RandomStartKind } from '../../src/kernels/norms.ts';
import type { Engine } from '../../src/wasm/engine.ts';
import { assertClose } from '../_helpers/close.ts';
import { checkGuards, engineFor, guarded, guardedFrom } from '../_helpers/engine.ts';
import { slideDirRef } from '../_helpers/perturb_reference.ts';
import { rng, uniform } from '../_helpers/rng.ts';

const DIMS = [1, 2, 3, 4, 5, 7, 8, 9, 17, 784, 3072];

describe('norms and sign: simd vs scalar vs float64', async () => {
  const engines = [await engineFor('simd'), await engineFor('scalar')];
  it.each(DIMS)('dim %i', (dim) => {
    const batch = dim > 100 ? 5 : 40;
    const x = uniform(rng(dim), batch * dim, -3, 3);
    for (let k = 0; k < x.length; k += 7) x[k] = 0;
    const want = new Float64Array(3 * batch);
    for (let n = 0; n < batch; n++) {
      const r = [...x.subarray(n * dim, (n + 1) * dim)];
      want[3 * n] = r.reduce((s, v) => s + Math.abs(v), 0);
      want[3 * n + 1] = Math.sqrt(r.reduce((s, v) => s + v * v, 0));
      want[3 * n + 2] = Math.max(...r.map(Math.abs));
    }
    for (const e of engines) e.arena.scope(() => {
      const X = guardedFrom(e, x), O = guarded(e, 3 * batch), S = guarded(e, batch * dim);
      norms(e, { batch, dim, x: X, out: O });
      sign(e, { batch, dim, x: X, out: S });
      checkGuards(e, O); checkGuards(e, S);
      assertClose(`${e.isa} norms`, e.toF32(O), want, { atol: 1e-5, rtol: 1e-5 });
      expect(e.toF32(S)).toEqual(x.map(Math.sign));
    });
  });
});

describe('SLIDE direction: simd vs scalar vs float64 reference', async () => {
  const engines = [await engineFor('simd'), await engineFor('scalar')];
  const cases: [number, number, boolean, boolean][] = [];
  for (const dim of DIMS) for (const q of [0, 50, 80, 99, 100]) cases.push([dim, q, dim % 2 === 0, q === 80]);
  it.each(cases)('dim %i, q %i, box %s, unblockedOnly %s', (dim, q, box, unblockedOnly) => {
    const batch = dim > 100 ? 4 : 25;
    const r = rng(dim * 100 + q);
    // Quantized gradients (ties at the percentile) with exact zeros; points on the box faces.
    const g = Float32Array.from({ length: batch * dim }, () => Math.round((r() - 0.5) * 16) / 8);
    const x = Float32Array.from({ length: batch * dim }, () => { const t = r(); return t < 0.2 ? 0 : t < 0.4 ? 1 : t; });
    const want = slideDirRef(g, box ? x : null, q, batch, unblockedOnly);
    for (const e of engines) e.arena.scope(() => {
      const G = guardedFrom(e, g), X = box ? guardedFrom(e, x) : null, O = guarded(e, batch * dim);
      slideDirection(e, { batch, dim, g: G, x: X, out: O, q, unblockedOnly });
      checkGuards(e, O);
      const out = e.toF32(O);
      assertClose(`${e.isa} slide`, out, want, { atol: 1e-7, rtol: 1e-6 });
      for (let n = 0; n < batch; n++) {
        const l1 = out.subarray(n * dim, (n + 1) * dim).reduce((s, v) => s + Math.abs(v), 0);
        if (l1 !== 0) expect(Math.abs(l1 - 1)).toBeLessThan(1e-5);
      }
    });
  });

  it('all-zero gradient gives e = 0; q = 100 picks the maximal coordinates', () => {
    for (const e of engines) e.arena.scope(() => {
      const G = guardedFrom(e, new Float32Array(10)), O = guarded(e, 10);
      slideDirection(e, { batch: 1, dim: 10, g: G, out: O });
      expect([...e.toF32(O)].every((v) => v === 0)).toBe(true);
      const G2 = guardedFrom(e, Float32Array.of(1, -3, 3, 2));
      slideDirection(e, { batch: 1, dim: 4, g: G2, out: O, q: 100 });
      expect([...e.toF32(O)].slice(0, 4)).toEqual([0, -0.5, 0.5, 0]);
    });
  });

  it('rejects q outside [0, 100]', () => {
    const e = engines[0];
    const G = e.fromF32(new Float32Array(4));
    expect(() => slideDirection(e, { batch: 1, dim: 4, g: G, out: G, q: 101 })).toThrow(/q must be in \[0, 100\]/);
  });
});

describe('random starts', async () => {
  const engines = [await engineFor('simd'), await engineFor('scalar')];

  function draw(e: Engine, kind: RandomStartKind, batch: number, dim: number, eps: Float32Array, seed: number, offset = 0): Float32Array {
    return e.arena.scope(() => {
      const O = guarded(e, batch * dim), E = guardedFrom(e, eps);
      randomStart(e, { kind, batch, dim, out: O, eps: E, seed, offset });
      checkGuards(e, O);
      return e.toF32(O);
    });
  }

  it.each(['linf', 'l2', 'l1'] as const)('%s: in the ball / on the sphere, seeded, keyed by example, simd = scalar', (kind) => {
    for (const dim of DIMS) {
      const batch = dim > 100 ? 6 : 30;
      const eps = Float32Array.from({ length: batch }, (_, n) => 0.1 + n * 0.05);
      const [a, b] = engines.map((e) => draw(e, kind, batch, dim, eps, 42));
      assertClose(`${kind} simd vs scalar`, a, b, { atol: 1e-7, rtol: 1e-5 });
      expect(draw(engines[0], kind, batch, dim, eps, 42)).toEqual(a);
      const other = draw(engines[0], kind, batch, dim, eps, 43);
      if (dim > 1 || kind === 'linf') expect(other).not.toEqual(a);
      // Rows 2.. generated alone (offset 2) equal the same rows of the whole batch.
      const tail = draw(engines[0], kind, batch - 2, dim, eps.subarray(2), 42, 2);
      expect(tail).toEqual(a.subarray(2 * dim));
      for (let n = 0; n < batch; n++) {
        const r = [...a.subarray(n * dim, (n + 1) * dim)];
        if (kind === 'linf') expect(Math.max(...r.map(Math.abs))).toBeLessThanOrEqual(eps[n]);
        if (kind === 'l2') expect(Math.sqrt(r.reduce((s, v) => s + v * v, 0))).toBeCloseTo(eps[n], 5);
        if (kind === 'l1') expect(r.reduce((s, v) => s + Math.abs(v), 0)).toBeCloseTo(eps[n], 5);
      }
    }
  });

  it('distributions: mean ≈ 0, L∞ uniform variance ε²/3, Laplace tails heavier than Gaussian', () => {
    const dim = 3072, e = engines[0];
    const lin = draw(e, 'linf', 1, dim, Float32Array.of(1), 7);
    const mean = lin.reduce((s, v) => s + v, 0) / dim, varr = lin.reduce((s, v) => s + v * v, 0) / dim;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(varr - 1 / 3)).toBeLessThan(0.03);
    const kurt = (v: Float32Array) => {
      const m2 = v.reduce((s, x) => s + x * x, 0) / v.length, m4 = v.reduce((s, x) => s + x ** 4, 0) / v.length;
      return m4 / (m2 * m2);
    };
    expect(Math.abs(kurt(draw(e, 'l2', 1, dim, Float32Array.of(1), 7)) - 3)).toBeLessThan(0.5);
    expect(Math.abs(kurt(draw(e, 'l1', 1, dim, Float32Array.of(1), 7)) - 6)).toBeLessThan(1.5);
  });

  it('rejects bad seeds, kinds and budgets', () => {
    const e = engines[0];
    const O = e.fromF32(new Float32Array(4)), E = e.fromF32(Float32Array.of(-1));
    expect(() => randomStart(e, { kind: 'l3' as never, batch: 1, dim: 4, out: O, eps: O, seed: 1 })).toThrow(/kind must be one of/);
    expect(() => randomStart(e, { kind: 'l2', batch: 1, dim: 4, out: O, eps: O, seed: -1 })).toThrow(/seed must be an integer/);
    expect(() => randomStart(e, { kind: 'l2', batch: 1, dim: 4, out: O, eps: E, seed: 1 })).toThrow(/eps must be finite and ≥ 0/);
  });
});
