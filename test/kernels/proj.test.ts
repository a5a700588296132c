import { describe, expect, it } from 'vitest';
import { projL1, projL1Box, projL2, projLinf, type ProjArgs } from '../../src/kernels/proj.ts';
import type { Engine } from '../../src/wasm/engine.ts';
import { assertClose } from '../_helpers/close.ts';
import { checkGuards, engineFor, guardedFrom, SIMD_BUILDS, simdEngine } from '../_helpers/engine.ts';
import { boxBoundRef, projL1BoxRef, projL1Ref, projL2Ref, projLinfRef } from '../_helpers/perturb_reference.ts';
import { rng } from '../_helpers/rng.ts';

type Kind = 'linf' | 'l2' | 'l1' | 'l1clip' | 'l1box';
const KINDS: Kind[] = ['linf', 'l2', 'l1', 'l1clip', 'l1box'];
const usesBox = (k: Kind) => k !== 'l1';

// ≥ 1,000 vectors per property: 104 per dim for 1–9, 60 of 784, 12 of 3072.
const SETS: [number, number][] = [[1, 104], [2, 104], [3, 104], [4, 104], [5, 104], [6, 104], [7, 104], [8, 104], [9, 104], [784, 60], [3072, 12]];

function norm(kind: Kind, row: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < row.length; i++) {
    const a = Math.abs(row[i]);
    s = kind === 'linf' ? Math.max(s, a) : kind === 'l2' ? s + a * a : s + a;
  }
  return kind === 'l2' ? Math.sqrt(s) : s;
}

/** Random rows: mixed distributions (uniform, heavy-tailed, sparse, quantized with ties), x0 with exact 0/1. */
function makeCase(seed: number, batch: number, dim: number, kind: Kind) {
  const r = rng(seed);
  const delta = new Float32Array(batch * dim), x0 = new Float32Array(batch * dim), eps = new Float32Array(batch);
  for (let n = 0; n < batch; n++) {
    const style = n % 4, scale = 0.05 + 2 * r();
    for (let i = 0; i < dim; i++) {
      const u = r() * 2 - 1;
      let v = style === 0 ? u : style === 1 ? Math.sign(u) * Math.log(1 / (1 - Math.abs(u) + 1e-9)) / 3 : style === 2 ? (r() < 0.2 ? u : 0) : Math.round(u * 4) / 4;
      delta[n * dim + i] = v * scale;
      const t = r();
      x0[n * dim + i] = t < 0.05 ? 0 : t < 0.1 ? 1 : r();
    }
    // ε: a random fraction of the row's own norm (some rows end up inside the ball).
    const nrm = norm(kind === 'l1clip' || kind === 'l1box' ? 'l1' : kind, delta.subarray(n * dim, (n + 1) * dim));
    eps[n] = Math.fround(nrm * (0.05 + 1.3 * r()));
  }
  return { delta, x0, eps };
}

function reference(kind: Kind, delta: Float32Array, x0: Float32Array, eps: Float32Array, batch: number): Float64Array {
  switch (kind) {
    case 'linf': return projLinfRef(delta, x0, eps, batch);
    case 'l2': return projL2Ref(delta, x0, eps, batch);
    case 'l1': return projL1Ref(delta, null, eps, batch);
    case 'l1clip': return projL1Ref(delta, x0, eps, batch);
    case 'l1box': return projL1BoxRef(delta, x0, eps, batch);
  }
}

function project(engine: Engine, kind: Kind, delta: Float32Array, x0: Float32Array | null, eps: Float32Array, batch: number, inPlace = false): Float32Array {
  return engine.arena.scope(() => {
    const dim = delta.length / Math.max(batch, 1);
    const D = guardedFrom(engine, delta), E = guardedFrom(engine, eps);
    const X = x0 && usesBox(kind) ? guardedFrom(engine, x0) : null;
    const O = inPlace ? D : guardedFrom(engine, new Float32Array(delta.length).fill(NaN));
    const args: ProjArgs = { batch, dim, delta: D, out: O, x0: X, eps: E };
    if (kind === 'linf') projLinf(engine, args);
    else if (kind === 'l2') projL2(engine, args);
    else if (kind === 'l1box') projL1Box(engine, args);
    else projL1(engine, args);
    for (const [b, name] of [[D, 'delta'], [E, 'eps'], [O, 'out'], ...(X ? [[X, 'x0']] : [])] as const) checkGuards(engine, b, name);
    if (!inPlace) expect(engine.toF32(D)).toEqual(delta);
    return engine.toF32(O);
  });
}

const tolFor = (dim: number) => ({ atol: 2e-6 * Math.sqrt(dim) + 1e-6, rtol: 1e-5 });

describe.each(SIMD_BUILDS)('projections (%s build): simd vs scalar vs float64 reference, properties', async (build) => {
  const simd = await simdEngine(build);
  const scalar = await engineFor('scalar');

  describe.each(KINDS)('%s', (kind) => {
    it.each(SETS)('dim %i × %i vectors: reference, ball, box, idempotent, in-place', (dim, batch) => {
      const { delta, x0, eps } = makeCase(dim * 7919 + KINDS.indexOf(kind), batch, dim, kind);
      const want = reference(kind, delta, x0, eps, batch);
      const tol = tolFor(dim);
      const outs = [simd, scalar].map((e) => project(e, kind, delta, x0, eps, batch));
      assertClose(`${kind} simd vs reference`, outs[0], want, tol);
      assertClose(`${kind} scalar vs reference`, outs[1], want, tol);
      assertClose(`${kind} simd vs scalar`, outs[0], outs[1], tol);
      const ballKind = kind === 'linf' ? 'linf' : kind === 'l2' ? 'l2' : 'l1';
      for (const out of outs) {
        const bad: string[] = [];
        for (let n = 0; n < batch; n++) {
          const row = out.subarray(n * dim, (n + 1) * dim);
          // Rounding: each output coordinate and the f32 threshold carry ~1 ulp of max|δ|.
          const maxAbs = norm('linf', delta.subarray(n * dim, (n + 1) * dim));
          const nrm = norm(ballKind, row);
          if (nrm > eps[n] * (1 + 1e-6) + dim * 1.2e-7 * maxAbs) bad.push(`row ${n}: norm ${nrm} > eps ${eps[n]}`);
          if (usesBox(kind)) for (let i = 0; i < dim; i++) {
            const x = x0[n * dim + i] + row[i];
            if (!(x >= -1e-7 && x <= 1 + 1e-7)) bad.push(`row ${n} [${i}]: x0 + z = ${x}`);
          }
        }
        expect(bad.slice(0, 5)).toEqual([]);
        // Idempotent: projecting a projection changes nothing (beyond rounding).
        for (const e of [simd, scalar]) assertClose(`${kind} idempotent`, project(e, kind, out, x0, eps, batch), out, tol);
      }
      assertClose(`${kind} in place`, project(simd, kind, delta, x0, eps, batch, true), outs[0], { atol: 0, rtol: 0 });
    });

    it.each(SETS)('dim %i × %i interior vectors are unchanged', (dim, batch) => {
      const { delta, x0, eps } = makeCase(dim * 31 + 5 + KINDS.indexOf(kind), batch, dim, kind);
      // Move every row strictly inside the ball and the box.
      for (let n = 0; n < batch; n++) {
        for (let i = 0; i < dim; i++) {
          const k = n * dim + i;
          if (usesBox(kind)) delta[k] = Math.fround(Math.min(Math.max(delta[k], -x0[k]), 1 - x0[k]));
        }
        const ballKind = kind === 'linf' ? 'linf' : kind === 'l2' ? 'l2' : 'l1';
        eps[n] = Math.fround(norm(ballKind, delta.subarray(n * dim, (n + 1) * dim)) * 1.01 + 1e-6);
      }
      for (const e of [simd, scalar]) assertClose(`${kind} interior`, project(e, kind, delta, x0, eps, batch), delta, { atol: 0, rtol: 0 });
    });
  });
});

describe.each(SIMD_BUILDS)('KKT conditions (%s build)', async (build) => {
  const simd = await simdEngine(build);
  const scalar = await engineFor('scalar');

  it.each(SETS)('L1 ball, dim %i × %i: ‖z‖₁ = ε when active, |δ|−|z| = θ on the support, |δ| ≤ θ off it', (dim, batch) => {
    const { delta, eps } = makeCase(dim + 101, batch, dim, 'l1');
    for (const e of [simd, scalar]) {
      const z = project(e, 'l1', delta, null, eps, batch);
      const bad: string[] = [];
      for (let n = 0; n < batch; n++) {
        const d = delta.subarray(n * dim, (n + 1) * dim), zr = z.subarray(n * dim, (n + 1) * dim);
        if (norm('l1', d) <= eps[n]) continue;
        const tol = 1.2e-7 * norm('linf', d) * 4;
        if (Math.abs(norm('l1', zr) - eps[n]) > 1e-6 * eps[n] + dim * tol) bad.push(`row ${n}: ‖z‖₁ ${norm('l1', zr)} ≠ ε ${eps[n]}`);
        const support = [...zr.keys()].filter((i) => zr[i] !== 0);
        if (support.length === 0) { bad.push(`row ${n}: empty support`); continue; }
        const theta = Math.abs(d[support[0]]) - Math.abs(zr[support[0]]);
        for (let i = 0; i < dim; i++) {
          if (zr[i] !== 0) {
            if (Math.sign(zr[i]) !== Math.sign(d[i])) bad.push(`row ${n} [${i}]: sign`);
            if (Math.abs(Math.abs(d[i]) - Math.abs(zr[i]) - theta) > tol) bad.push(`row ${n} [${i}]: |δ|−|z| ≠ θ`);
          } else if (Math.abs(d[i]) > theta + tol) bad.push(`row ${n} [${i}]: |δ| = ${d[i]} > θ = ${theta} off the support`);
        }
      }
      expect(bad.slice(0, 5)).toEqual([]);
    }
  });

  it.each(SETS)('L1 ∩ box, dim %i × %i: z = sign(δ)·min(max(|δ|−λ, 0), b) with one λ, ‖z‖₁ = ε when active', (dim, batch) => {
    const { delta, x0, eps } = makeCase(dim + 202, batch, dim, 'l1box');
    for (const e of [simd, scalar]) {
      const z = project(e, 'l1box', delta, x0, eps, batch);
      const bad: string[] = [];
      for (let n = 0; n < batch; n++) {
        const d = delta.subarray(n * dim, (n + 1) * dim), zr = z.subarray(n * dim, (n + 1) * dim), x = x0.subarray(n * dim, (n + 1) * dim);
        const b = [...d].map((v, i) => boxBoundRef(v, x[i]));
        const clipped = [...d].reduce((s, v, i) => s + Math.min(Math.abs(v), b[i]), 0);
        const tol = 1.2e-7 * Math.max(norm('linf', d), 1) * 4;
        if (clipped <= eps[n]) {
          for (let i = 0; i < dim; i++) if (Math.abs(Math.abs(zr[i]) - Math.min(Math.abs(d[i]), b[i])) > 1e-7) bad.push(`row ${n} [${i}]: not the box clip`);
          continue;
        }
        if (Math.abs(norm('l1', zr) - eps[n]) > 1e-6 * eps[n] + dim * tol) bad.push(`row ${n}: ‖z‖₁ ${norm('l1', zr)} ≠ ε ${eps[n]}`);
        // λ from a coordinate strictly inside (0, b); then every coordinate must match the formula.
        const free = [...zr.keys()].filter((i) => zr[i] !== 0 && Math.abs(zr[i]) < b[i] - 1e-6);
        const lam = free.length ? Math.abs(d[free[0]]) - Math.abs(zr[free[0]]) : null;
        for (let i = 0; i < dim; i++) {
          if (zr[i] !== 0 && Math.sign(zr[i]) !== Math.sign(d[i])) bad.push(`row ${n} [${i}]: sign`);
          if (Math.abs(zr[i]) > b[i] + 1e-7) bad.push(`row ${n} [${i}]: outside the box`);
          if (lam !== null && Math.abs(Math.abs(zr[i]) - Math.min(Math.max(Math.abs(d[i]) - lam, 0), b[i])) > tol) bad.push(`row ${n} [${i}]: not the KKT formula with λ = ${lam}`);
        }
      }
      expect(bad.slice(0, 5)).toEqual([]);
    }
  });
});

describe('degenerate cases', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const dims = [1, 3, 4, 5, 8, 9, 784];

  it.each(KINDS)('%s: ε = 0, zero vector, all-equal coordinates (ties)', (kind) => {
    for (const dim of dims) for (const e of [simd, scalar]) {
      const r = rng(dim);
      const x0 = Float32Array.from({ length: 3 * dim }, () => r());
      const delta = Float32Array.from({ length: 3 * dim }, (_, k) => (k < dim ? r() - 0.5 : k < 2 * dim ? 0 : (k % 2 ? -0.25 : 0.25)));
      // ε = 0 everywhere: the result is 0 (L∞ too: clamp to [0, 0]).
      const zero = project(e, kind, delta, x0, new Float32Array(3), 3);
      expect([...zero].every((v) => v === 0)).toBe(true);
      // Zero vector with ε > 0 stays 0; all-equal |δ| with ties: matches the reference.
      const eps = Float32Array.of(0.3, 0.3, 0.1 * dim);
      const out = project(e, kind, delta, x0, eps, 3);
      expect([...out.subarray(dim, 2 * dim)].every((v) => v === 0)).toBe(true);
      assertClose(`${kind} ties dim ${dim}`, out, reference(kind, delta, x0, eps, 3), tolFor(dim));
    }
  });

  it('L1 ∩ box: ε larger than the box allows gives the box clip', () => {
    for (const dim of dims) for (const e of [simd, scalar]) {
      const r = rng(dim + 9);
      const x0 = Float32Array.from({ length: dim }, () => r());
      const delta = Float32Array.from({ length: dim }, () => 4 * (r() - 0.5));
      const out = project(e, 'l1box', delta, x0, Float32Array.of(dim + 1), 1);
      const clip = delta.map((v, i) => Math.min(Math.max(v, -x0[i]), 1 - x0[i]));
      assertClose(`box clip dim ${dim}`, out, clip, { atol: 1e-7, rtol: 0 });
    }
  });

  it('L1 ∩ box: x0 on the box faces blocks those coordinates; exact ties at the threshold', () => {
    for (const e of [simd, scalar]) {
      const x0 = Float32Array.of(1, 0, 0.5, 0.5, 0.5, 0.5);
      const delta = Float32Array.of(0.5, -0.5, 0.5, 0.5, -0.5, 0.5);
      const out = project(e, 'l1box', delta, x0, Float32Array.of(1), 1);
      assertClose('faces', out, [0, 0, 0.25, 0.25, -0.25, 0.25], { atol: 1e-7, rtol: 0 });
    }
  });

  it('batch 0 and dim 0 run without touching memory', () => {
    for (const kind of KINDS) for (const e of [simd, scalar]) {
      expect(project(e, kind, new Float32Array(0), new Float32Array(0), new Float32Array(0), 0)).toHaveLength(0);
      expect(project(e, kind, new Float32Array(0), new Float32Array(0), new Float32Array(2), 2)).toHaveLength(0);
    }
  });
});

describe('projection argument checks', async () => {
  const engine = await engineFor('simd');
  const d = engine.fromF32(new Float32Array(6)), x = engine.fromF32(new Float32Array(6));
  const eps = engine.fromF32(Float32Array.of(1, 1)), negEps = engine.fromF32(Float32Array.of(1, -1)), nanEps = engine.fromF32(Float32Array.of(NaN, 1));
  it.each([
    [{ batch: 1.5 }, /batch must be an integer/],
    [{ dim: -1 }, /dim must be an integer/],
    [{ delta: { ptr: d.ptr, length: 5 } }, /delta has 5 floats, expected at least 6/],
    [{ eps: { ptr: eps.ptr, length: 1 } }, /eps has 1 floats/],
    [{ eps: negEps }, /eps must be finite and ≥ 0, got eps\[1\] = -1/],
    [{ eps: nanEps }, /eps must be finite and ≥ 0, got eps\[0\] = NaN/],
    [{ x0: { ptr: x.ptr, length: 2 } }, /x0 has 2 floats/],
  ])('%o', (over, msg) => {
    for (const f of [projLinf, projL2, projL1, projL1Box]) {
      expect(() => f(engine, { batch: 2, dim: 3, delta: d, eps, x0: x, ...(over as object) } as ProjArgs)).toThrow(msg);
    }
  });
  it('projL1Box requires x0', () => {
    expect(() => projL1Box(engine, { batch: 2, dim: 3, delta: d, eps })).toThrow(/x0 is required/);
  });
});
