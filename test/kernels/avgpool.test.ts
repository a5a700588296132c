// Average pooling (assembly/avgpool.ts) and leaky ReLU (assembly/activation.ts): simd vs scalar
// (bit-identical) vs a float64 reference over edge sizes (windows, strides, padding with and
// without count_include_pad, global pooling, channel counts around the SIMD width), every output
// written (NaN-filled buffers, guards intact), parts of a call equal the whole call, and the
// backward pass as the exact adjoint of the forward (⟨pool(x), dy⟩ = ⟨x, pool_bwd(dy)⟩).
import { describe, expect, it } from 'vitest';
import { Params } from '../../src/engine.ts';
import { leakyRelu, leakyReluBackward } from '../../src/kernels/activation.ts';
import { avgPool2d, avgPool2dBackward, avgPoolShape, maxPool, maxPoolBackward, type AvgPoolGeometry } from '../../src/kernels/avgpool.ts';
import { assertClose, assertEqualBits } from '../_helpers/close.ts';
import { checkGuards, engineFor, guarded, guardedFrom } from '../_helpers/engine.ts';
import { avgPoolRef, maxPoolGeneralRef, runParts } from '../_helpers/nn_reference.ts';
import { dot, rng, uniform } from '../_helpers/rng.ts';

/** float64 backward: the transpose of avgPoolRef. */
function avgPoolBackwardRef(dy: ArrayLike<number>, g: AvgPoolGeometry): Float64Array {
  const s = avgPoolShape('ref', g);
  const dx = new Float64Array(s.batch * s.h * s.w * s.c);
  for (let n = 0; n < s.batch; n++) for (let oh = 0; oh < s.oh; oh++) for (let ow = 0; ow < s.ow; ow++) {
    const taps: [number, number][] = [];
    for (let ky = 0; ky < s.kh; ky++) for (let kx = 0; kx < s.kw; kx++) {
      const h = oh * s.sh - s.ph + ky, w = ow * s.sw - s.pw + kx;
      if (h >= 0 && h < s.h && w >= 0 && w < s.w) taps.push([h, w]);
    }
    const div = s.includePad ? s.kh * s.kw : taps.length;
    for (let c = 0; c < s.c; c++) for (const [h, w] of taps) dx[((n * s.h + h) * s.w + w) * s.c + c] += dy[((n * s.oh + oh) * s.ow + ow) * s.c + c] / div;
  }
  return dx;
}

const CASES: (AvgPoolGeometry & { label: string })[] = [];
for (const c of [1, 3, 4, 5, 8, 9])
  for (const [h, w, kh, kw, sh, sw, ph, pw, includePad] of [
    [6, 6, 2, 2, 2, 2, 0, 0, false], [7, 5, 3, 3, 2, 2, 1, 1, false], [7, 5, 3, 3, 2, 2, 1, 1, true], [5, 5, 3, 2, 1, 2, 0, 1, false],
    [4, 7, 4, 7, 1, 1, 0, 0, false], [1, 1, 1, 1, 1, 1, 0, 0, false], [9, 11, 5, 3, 3, 2, 2, 1, false], [8, 8, 2, 2, 1, 1, 1, 1, true],
  ] as [number, number, number, number, number, number, number, number, boolean][]) {
    CASES.push({ label: `c=${c} ${h}×${w} k${kh}×${kw} s${sh}×${sw} p${ph}×${pw}${includePad ? ' incl' : ''}`, batch: 1 + (c % 3), h, w, c, kh, kw, sh, sw, ph, pw, includePad });
  }

describe('average pooling: simd vs scalar vs float64 reference', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const rand = rng(5);

  it.each(CASES)('$label', (g) => {
    const s = avgPoolShape('test', g);
    const nIn = s.batch * s.h * s.w * s.c, nOut = s.batch * s.oh * s.ow * s.c;
    const x = uniform(rand, nIn), dy = uniform(rand, nOut);
    const ys: Float32Array[] = [], dxs: Float32Array[] = [];
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const X = guardedFrom(engine, x), DY = guardedFrom(engine, dy), Y = guarded(engine, nOut), DX = guarded(engine, nIn);
        avgPool2d(engine, { ...g, x: X, y: Y });
        avgPool2dBackward(engine, { ...g, dy: DY, dx: DX });
        for (const [b, name] of [[X, 'x'], [DY, 'dy'], [Y, 'y'], [DX, 'dx']] as const) checkGuards(engine, b, name);
        ys.push(engine.toF32(Y));
        dxs.push(engine.toF32(DX));
      });
    }
    assertClose('y simd vs reference', ys[0], avgPoolRef(x, g), { atol: 1e-6, rtol: 1e-5 });
    assertClose('dx simd vs reference', dxs[0], avgPoolBackwardRef(dy, g), { atol: 1e-6, rtol: 1e-5 });
    assertEqualBits('y simd vs scalar', ys[0], ys[1]);
    assertEqualBits('dx simd vs scalar', dxs[0], dxs[1]);
    // The backward is the adjoint of the forward.
    expect(Math.abs(dot(ys[0], dy) - dot(x, dxs[0]))).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(dot(ys[0], dy))));
  });

  it('parts of a call equal the whole call bit for bit', () => {
    const g: AvgPoolGeometry = { batch: 3, h: 7, w: 9, c: 6, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1, includePad: false };
    const s = avgPoolShape('test', g);
    const nIn = s.batch * s.h * s.w * s.c, nOut = s.batch * s.oh * s.ow * s.c;
    const x = uniform(rand, nIn), dy = uniform(rand, nOut);
    const p = (a: { ptr: number }, b: { ptr: number }) => new Params().i32(s.batch).i32(s.h).i32(s.w).i32(s.c).i32(s.kh).i32(s.kw).i32(s.sh).i32(s.sw).i32(s.ph).i32(s.pw).i32(s.oh).i32(s.ow).ptr(a as never).ptr(b as never).i32(0);
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const X = engine.fromF32(x), DY = engine.fromF32(dy);
        const Y1 = guarded(engine, nOut), Y2 = guarded(engine, nOut), DX1 = guarded(engine, nIn), DX2 = guarded(engine, nIn);
        avgPool2d(engine, { ...g, x: X, y: Y1 });
        avgPool2dBackward(engine, { ...g, dy: DY, dx: DX1 });
        runParts(engine, 'f32_avgpool2d_fwd', p(X, Y2), s.batch * s.oh, [1, 2, 5]);
        runParts(engine, 'f32_avgpool2d_bwd', p(DY, DX2), s.batch * s.h, [2, 3, 7, 11]);
        assertEqualBits(`${engine.isa} fwd parts`, engine.toF32(Y2), engine.toF32(Y1));
        assertEqualBits(`${engine.isa} bwd parts`, engine.toF32(DX2), engine.toF32(DX1));
      });
    }
  });

  it('bad geometry is a RangeError naming it', () => {
    const base: AvgPoolGeometry = { batch: 1, h: 4, w: 4, c: 1, kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0, includePad: false };
    expect(() => avgPoolShape('avgPool2d', { ...base, kh: 5 })).toThrow(/avgPool2d: the window \(5, 2\) is larger than the padded input/);
    expect(() => avgPoolShape('avgPool2d', { ...base, ph: 2 })).toThrow(/padding \(2, 0\) must be smaller than the window/);
    expect(() => avgPoolShape('avgPool2d', { ...base, sh: 0 })).toThrow(/sh/);
  });
});

describe('general max pooling: simd vs scalar vs float64 reference', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const rand = rng(13);
  // Half the cases draw from three integers: windows full of ties (the first max takes the gradient).
  it.each(CASES.map((g, i) => ({ ...g, ties: i % 2 === 0 })))('$label ties=$ties', (g) => {
    const s = avgPoolShape('test', g);
    const nIn = s.batch * s.h * s.w * s.c, nOut = s.batch * s.oh * s.ow * s.c;
    const x = g.ties ? Float32Array.from({ length: nIn }, () => Math.floor(rand() * 3) - 1) : uniform(rand, nIn);
    const dy = uniform(rand, nOut);
    const { y: wantY, arg } = maxPoolGeneralRef(x, g);
    const wantDx = new Float64Array(nIn);
    arg.forEach((i, o) => { wantDx[i] += dy[o]; });
    const ys: Float32Array[] = [], dxs: Float32Array[] = [];
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const X = guardedFrom(engine, x), DY = guardedFrom(engine, dy), Y = guarded(engine, nOut), DX = guarded(engine, nIn);
        maxPool(engine, { ...g, x: X, y: Y });
        maxPoolBackward(engine, { ...g, x: X, dy: DY, dx: DX });
        for (const [b, name] of [[X, 'x'], [DY, 'dy'], [Y, 'y'], [DX, 'dx']] as const) checkGuards(engine, b, name);
        ys.push(engine.toF32(Y));
        dxs.push(engine.toF32(DX));
      });
    }
    assertClose('y simd vs reference', ys[0], wantY, { atol: 0, rtol: 0 });
    assertClose('dx simd vs reference', dxs[0], wantDx, { atol: 1e-6, rtol: 1e-6 });
    assertEqualBits('y simd vs scalar', ys[0], ys[1]);
    assertEqualBits('dx simd vs scalar', dxs[0], dxs[1]);
  });

  it('2×2 stride 2 agrees with the dedicated maxPool2d kernel', async () => {
    const { maxPool2x2, maxPool2x2Backward } = await import('../../src/kernels/pool.ts');
    const g: AvgPoolGeometry = { batch: 2, h: 8, w: 6, c: 5, kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0, includePad: false };
    const x = Float32Array.from({ length: 2 * 8 * 6 * 5 }, () => Math.floor(rand() * 3)), dy = uniform(rand, 2 * 4 * 3 * 5);
    simd.arena.scope(() => {
      const X = simd.fromF32(x), DY = simd.fromF32(dy);
      const [Y1, Y2, DX1, DX2] = [guarded(simd, dy.length), guarded(simd, dy.length), guarded(simd, x.length), guarded(simd, x.length)];
      maxPool(simd, { ...g, x: X, y: Y1 });
      maxPoolBackward(simd, { ...g, x: X, dy: DY, dx: DX1 });
      maxPool2x2(simd, { x: X, y: Y2, batch: 2, h: 8, w: 6, c: 5 });
      maxPool2x2Backward(simd, { x: X, dy: DY, dx: DX2, batch: 2, h: 8, w: 6, c: 5 });
      assertEqualBits('y', simd.toF32(Y1), simd.toF32(Y2));
      assertEqualBits('dx', simd.toF32(DX1), simd.toF32(DX2));
    });
  });
});

describe('leaky ReLU: simd vs scalar vs float64 reference', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const rand = rng(9);
  it.each([1, 3, 4, 7, 64, 1001])('n=%i', (n) => {
    const alpha = 0.1;
    const x = uniform(rand, n), dy = uniform(rand, n);
    x[0] = 0; // the slope at 0 is α
    const out: Float32Array[][] = [];
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const X = guardedFrom(engine, x), DY = guardedFrom(engine, dy), Y = guarded(engine, n), DX = guarded(engine, n);
        leakyRelu(engine, { x: X, y: Y, n, alpha });
        leakyReluBackward(engine, { x: X, dy: DY, dx: DX, n, alpha });
        for (const b of [Y, DX]) checkGuards(engine, b);
        out.push([engine.toF32(Y), engine.toF32(DX)]);
      });
    }
    const f = Math.fround(alpha);
    assertClose('y', out[0][0], Float64Array.from(x, (v) => (v > 0 ? v : Math.fround(f * v))), { atol: 0, rtol: 0 });
    assertClose('dx', out[0][1], Float64Array.from(x, (v, i) => (v > 0 ? dy[i] : Math.fround(f * dy[i]))), { atol: 0, rtol: 0 });
    assertEqualBits('y simd vs scalar', out[0][0], out[1][0]);
    assertEqualBits('dx simd vs scalar', out[0][1], out[1][1]);
  });
  it('alpha outside [0, 1) is a RangeError', async () => {
    const engine = await engineFor('simd');
    engine.arena.scope(() => {
      const X = engine.fromF32(new Float32Array(4));
      expect(() => leakyRelu(engine, { x: X, y: X, n: 4, alpha: 1 })).toThrow(/leakyRelu: alpha must be in \[0, 1\)/);
    });
  });
});
