import { describe, expect, it } from 'vitest';
import { Params } from '../../src/engine.ts';
import { relu, reluBackward } from '../../src/kernels/activation.ts';
import { maxPool2x2, maxPool2x2Backward, maxPool2x2Shape } from '../../src/kernels/pool.ts';
import { assertClose, assertEqualBits } from '../_helpers/close.ts';
import { checkGuards, engineFor, guarded, guardedFrom } from '../_helpers/engine.ts';
import { maxPoolArgmaxRef, maxPoolBackwardRef, maxPoolRef, runParts } from '../_helpers/nn_reference.ts';
import { dot, rng, uniform } from '../_helpers/rng.ts';

const HW: [number, number][] = [[1, 1], [1, 4], [2, 1], [2, 2], [3, 3], [4, 5], [5, 4], [6, 6], [7, 7], [9, 11]];
const CHANNELS = [1, 3, 4, 5, 8, 9, 32];

/** Values from a small set of integers: windows are full of ties. */
function tiesHeavy(rand: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.floor(rand() * 3) - 1);
}

describe('max-pool 2×2: simd vs scalar vs float64 reference', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const rand = rng(21);
  const cases: { batch: number; h: number; w: number; c: number; ties: boolean }[] = [];
  for (const [h, w] of HW) for (const c of CHANNELS) cases.push({ batch: 1 + ((h + c) % 3), h, w, c, ties: (h * w + c) % 2 === 0 });

  it.each(cases)('batch=$batch h=$h w=$w c=$c ties=$ties', ({ batch, h, w, c, ties }) => {
    const [, oh, ow] = maxPool2x2Shape(batch, h, w, c);
    const nIn = batch * h * w * c, nOut = batch * oh * ow * c;
    const x = ties ? tiesHeavy(rand, nIn) : uniform(rand, nIn);
    const dy = uniform(rand, nOut);
    const wantY = maxPoolRef(x, batch, h, w, c);
    const wantDx = maxPoolBackwardRef(x, dy, batch, h, w, c);
    const ys: Float32Array[] = [], dxs: Float32Array[] = [];
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const X = guardedFrom(engine, x), DY = guardedFrom(engine, dy);
        const Y = guarded(engine, nOut), DX = guarded(engine, nIn); // NaN-filled: dx must be fully overwritten
        maxPool2x2(engine, { x: X, y: Y, batch, h, w, c });
        maxPool2x2Backward(engine, { x: X, dy: DY, dx: DX, batch, h, w, c });
        for (const [b, name] of [[X, 'x'], [DY, 'dy'], [Y, 'y'], [DX, 'dx']] as const) checkGuards(engine, b, name);
        ys.push(engine.toF32(Y));
        dxs.push(engine.toF32(DX));
      });
    }
    // Max and routing are exact: no rounding anywhere.
    assertClose('y simd vs reference', ys[0], wantY, { atol: 0, rtol: 0 });
    assertClose('dx simd vs reference', dxs[0], wantDx, { atol: 0, rtol: 0 });
    assertEqualBits('y simd vs scalar', ys[0], ys[1]);
    assertEqualBits('dx simd vs scalar', dxs[0], dxs[1]);
  });

  it.each(cases.filter((_, i) => i % 3 === 0))('fused ReLU = ReLU then pool, values and gradients: batch=$batch h=$h w=$w c=$c ties=$ties', ({ batch, h, w, c, ties }) => {
    const [, oh, ow] = maxPool2x2Shape(batch, h, w, c);
    const nIn = batch * h * w * c, nOut = batch * oh * ow * c;
    const x = ties ? tiesHeavy(rand, nIn) : uniform(rand, nIn);
    const dy = uniform(rand, nOut);
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const X = guardedFrom(engine, x), DY = guardedFrom(engine, dy);
        const Y = guarded(engine, nOut), DX = guarded(engine, nIn);
        maxPool2x2(engine, { x: X, y: Y, batch, h, w, c, relu: true });
        maxPool2x2Backward(engine, { x: X, dy: DY, dx: DX, batch, h, w, c, relu: true });
        for (const [b, name] of [[X, 'x'], [DY, 'dy'], [Y, 'y'], [DX, 'dx']] as const) checkGuards(engine, b, name);
        // The composition: r = relu(x); y = pool(r); dr = pool_bwd(r, dy); dx = relu_bwd(r, dr).
        const R = engine.arena.allocF32(nIn), Y2 = engine.arena.allocF32(nOut), DR = engine.arena.allocF32(nIn), DX2 = engine.arena.allocF32(nIn);
        relu(engine, { x: X, y: R, n: nIn });
        maxPool2x2(engine, { x: R, y: Y2, batch, h, w, c });
        maxPool2x2Backward(engine, { x: R, dy: DY, dx: DR, batch, h, w, c });
        reluBackward(engine, { y: R, dy: DR, dx: DX2, n: nIn });
        assertEqualBits(`${engine.isa} fused y`, engine.toF32(Y), engine.toF32(Y2));
        assertEqualBits(`${engine.isa} fused dx`, engine.toF32(DX), engine.toF32(DX2));
      });
    }
  });

  it('ties go to the first max in window order (0,0), (0,1), (1,0), (1,1)', () => {
    // One window per channel: c0 all equal → (0,0); c1 max at (0,1) and (1,1) → (0,1);
    // c2 max at (1,0) and (1,1) → (1,0); c3 only (1,1); c4 (0,0) and (1,0) → (0,0).
    const C = 5;
    const win = [
      [2, 2, 2, 2],
      [0, 5, 1, 5],
      [0, 1, 7, 7],
      [0, 1, 2, 3],
      [4, 1, 4, 3],
    ];
    const x = new Float32Array(4 * C);
    for (let c = 0; c < C; c++) for (let k = 0; k < 4; k++) x[k * C + c] = win[c][k];
    const dy = Float32Array.from({ length: C }, (_, c) => 10 + c);
    const expectK = [0, 1, 2, 3, 0];
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const X = engine.fromF32(x), DY = engine.fromF32(dy), DX = guarded(engine, 4 * C);
        maxPool2x2Backward(engine, { x: X, dy: DY, dx: DX, batch: 1, h: 2, w: 2, c: C });
        const dx = engine.toF32(DX);
        for (let c = 0; c < C; c++) {
          for (let k = 0; k < 4; k++) expect(dx[k * C + c], `${engine.isa} c=${c} k=${k}`).toBe(k === expectK[c] ? dy[c] : 0);
        }
      });
    }
  });

  it('output-row ranges: parts equal the whole call bit for bit (forward and backward)', () => {
    const batch = 3, h = 7, w = 9, c = 6;
    const [, oh, ow] = maxPool2x2Shape(batch, h, w, c);
    const nIn = batch * h * w * c, nOut = batch * oh * ow * c;
    const x = tiesHeavy(rand, nIn), dy = uniform(rand, nOut);
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const X = engine.fromF32(x), DY = engine.fromF32(dy);
        const Y1 = guarded(engine, nOut), Y2 = guarded(engine, nOut), DX1 = guarded(engine, nIn), DX2 = guarded(engine, nIn);
        maxPool2x2(engine, { x: X, y: Y1, batch, h, w, c });
        maxPool2x2Backward(engine, { x: X, dy: DY, dx: DX1, batch, h, w, c });
        const total = batch * oh;
        runParts(engine, 'f32_maxpool2d_fwd', new Params().i32(batch).i32(h).i32(w).i32(c).ptr(X).ptr(Y2).i32(0), total, [1, 2, 5]);
        runParts(engine, 'f32_maxpool2d_bwd', new Params().i32(batch).i32(h).i32(w).i32(c).ptr(X).ptr(DY).ptr(DX2).i32(0), total, [2, 3, 7]);
        assertEqualBits(`${engine.isa} fwd parts`, engine.toF32(Y2), engine.toF32(Y1));
        assertEqualBits(`${engine.isa} bwd parts`, engine.toF32(DX2), engine.toF32(DX1));
        for (const b of [Y2, DX2]) checkGuards(engine, b);
      });
    }
  });
});

describe('max-pool backward: adjoint routing and central differences', async () => {
  const engine = await engineFor('simd');

  it.each([[2, 6, 6, 3], [1, 7, 5, 4], [3, 9, 11, 5], [2, 8, 8, 32]])('batch=%i h=%i w=%i c=%i', (batch, h, w, c) => {
    const rand = rng(batch * 1000 + h * 100 + w * 10 + c);
    const [, oh, ow] = maxPool2x2Shape(batch, h, w, c);
    const nIn = batch * h * w * c, nOut = batch * oh * ow * c;
    const x = tiesHeavy(rand, nIn), dy = uniform(rand, nOut), v = uniform(rand, nIn);
    const arg = maxPoolArgmaxRef(x, batch, h, w, c);
    const selectedV = Float64Array.from(arg, (i) => v[i]);
    engine.arena.scope(() => {
      const X = engine.fromF32(x), DY = engine.fromF32(dy), Y = guarded(engine, nOut), DX = guarded(engine, nIn);
      maxPool2x2(engine, { x: X, y: Y, batch, h, w, c });
      maxPool2x2Backward(engine, { x: X, dy: DY, dx: DX, batch, h, w, c });
      const dx = engine.toF32(DX);
      // ⟨pool_bwd(dy), v⟩ = ⟨dy, v at the selected positions⟩.
      const lhs = dot(dx, v), rhs = dot(dy, selectedV);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-5 * (1 + Math.abs(lhs)));
      // With v = x the selection is the forward pass itself: ⟨pool_bwd(dy), x⟩ = ⟨dy, pool(x)⟩.
      const lhsX = dot(dx, x), rhsX = dot(dy, engine.toF32(Y));
      expect(Math.abs(lhsX - rhsX)).toBeLessThan(1e-5 * (1 + Math.abs(lhsX)));
    });
  });

  it('dx matches central differences of ⟨dy, pool(x)⟩ (distinct values, no ties)', () => {
    const batch = 2, h = 5, w = 7, c = 5, step = 1e-3;
    const [, oh, ow] = maxPool2x2Shape(batch, h, w, c);
    const nIn = batch * h * w * c, nOut = batch * oh * ow * c;
    const rand = rng(22);
    // A shuffled grid with spacing 0.01 ≫ step: windows have clear winners.
    const x = Float32Array.from({ length: nIn }, (_, i) => i * 0.01);
    for (let i = nIn - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [x[i], x[j]] = [x[j], x[i]];
    }
    const dy = uniform(rand, nOut);
    const f = (xs: ArrayLike<number>) => dot(dy, maxPoolRef(xs, batch, h, w, c));
    const fd = new Float64Array(nIn);
    const x64 = Float64Array.from(x);
    for (let i = 0; i < nIn; i++) {
      const xp = x64.slice(), xm = x64.slice();
      xp[i] += step;
      xm[i] -= step;
      fd[i] = (f(xp) - f(xm)) / (2 * step);
    }
    engine.arena.scope(() => {
      const X = engine.fromF32(x), DY = engine.fromF32(dy), DX = guarded(engine, nIn);
      maxPool2x2Backward(engine, { x: X, dy: DY, dx: DX, batch, h, w, c });
      assertClose('dx vs central differences', engine.toF32(DX), fd, { atol: 1e-4, rtol: 1e-3 });
    });
  });
});

describe('max-pool argument checks', async () => {
  const engine = await engineFor('simd');
  const x = engine.fromF32(new Float32Array(2 * 4 * 4 * 3)), y = engine.fromF32(new Float32Array(2 * 2 * 2 * 3));
  const dx = engine.fromF32(new Float32Array(2 * 4 * 4 * 3));
  const shape = { batch: 2, h: 4, w: 4, c: 3 };
  it.each([
    [{ batch: 1.5 }, /maxPool2x2: batch must be an integer/],
    [{ h: -4 }, /maxPool2x2: h must be an integer/],
    [{ c: NaN }, /maxPool2x2: c must be an integer/],
    [{ w: 5, h: 5 }, /maxPool2x2: x has 96 floats, expected at least 150/],
    [{ y: { ptr: y.ptr, length: 23 } }, /maxPool2x2: y has 23 floats, expected at least 24/],
    [{ y: { ptr: x.ptr + 16, length: 24 } }, /maxPool2x2: x and y overlap/],
    [{ x: null }, /maxPool2x2: x must be a buffer/],
  ])('maxPool2x2 %o', (over, msg) => {
    expect(() => maxPool2x2(engine, { x, y, ...shape, ...(over as object) } as never)).toThrow(msg);
  });
  it.each([
    [{ dy: { ptr: y.ptr, length: 3 } }, /maxPool2x2Backward: dy has 3 floats/],
    [{ dx: { ptr: dx.ptr, length: 95 } }, /maxPool2x2Backward: dx has 95 floats/],
    [{ dx: x }, /maxPool2x2Backward: x and dx overlap/],
    [{ c: 2.2 }, /maxPool2x2Backward: c must be an integer/],
  ])('maxPool2x2Backward %o', (over, msg) => {
    expect(() => maxPool2x2Backward(engine, { x, dy: y, dx, ...shape, ...(over as object) } as never)).toThrow(msg);
  });
});
