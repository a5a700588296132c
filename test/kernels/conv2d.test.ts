import { describe, expect, it } from 'vitest';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dGeometry, type Conv2dGeometry, type Conv2dShape } from '../../src/kernels/conv2d.ts';
import { checkConvAdjoint, checkConvCase } from '../_helpers/conv_run.ts';
import { engineFor, SIMD_BUILDS, simdEngine } from '../_helpers/engine.ts';

// A deterministic sample of the sweep: sizes around the vector width, channels 1, 3, 4, 5, 32,
// odd H/W, kernels 1/3/5, both strides and paddings; plus the paper's MNIST shapes at batch 2.
function shapes(): Conv2dShape[] {
  const out: Conv2dShape[] = [];
  const hw = [1, 3, 4, 5, 7, 9], chans = [1, 3, 4, 5, 32], couts = [1, 3, 4, 5, 8, 9, 32], ks = [1, 3, 5];
  let i = 0;
  for (const cin of chans) for (const cout of couts) {
    const h = hw[i % hw.length], w = hw[(i * 5 + 2) % hw.length], k = ks[i % 3];
    const stride = 1 + (i % 2), padding = i % 3 === 0 ? 'valid' as const : i % 3 === 1 ? 'same' as const : 1;
    i++;
    const pad = padding === 'valid' ? 0 : padding === 'same' ? k : 2 * padding;
    if (k > h + pad || k > w + pad) out.push({ batch: 2, h, w, cin, cout, kh: k, kw: k, stride, padding: 'same' });
    else out.push({ batch: 1 + (i % 3), h, w, cin, cout, kh: k, kw: k, stride, padding });
  }
  out.push({ batch: 2, h: 28, w: 28, cin: 1, cout: 32, kh: 5, kw: 5, stride: 1, padding: 'same' });
  out.push({ batch: 2, h: 14, w: 14, cin: 32, cout: 64, kh: 5, kw: 5, stride: 1, padding: 'same' });
  out.push({ batch: 3, h: 8, w: 6, cin: 3, cout: 5, kh: 3, kw: 2, stride: 2, padding: 'same' });
  out.push({ batch: 2, h: 9, w: 7, cin: 4, cout: 3, kh: 4, kw: 4, stride: 2, padding: 'valid' });
  // Direct SIMD paths (Cin < 4): Cout tails, OW not a multiple of 4, strides 1–3, non-square kernels,
  // several dy chunks per image in bwd_filter (OH·OW > 256), one row wider than a chunk.
  out.push({ batch: 3, h: 11, w: 13, cin: 1, cout: 9, kh: 3, kw: 5, stride: 2, padding: 'valid' });
  out.push({ batch: 2, h: 10, w: 10, cin: 2, cout: 5, kh: 5, kw: 5, stride: 1, padding: 'same' });
  out.push({ batch: 1, h: 12, w: 11, cin: 3, cout: 3, kh: 4, kw: 3, stride: 1, padding: 'valid' });
  out.push({ batch: 2, h: 13, w: 6, cin: 1, cout: 1, kh: 3, kw: 3, stride: 2, padding: 'same' });
  out.push({ batch: 3, h: 9, w: 14, cin: 2, cout: 32, kh: 5, kw: 5, stride: 3, padding: 2 });
  out.push({ batch: 2, h: 30, w: 23, cin: 1, cout: 12, kh: 3, kw: 3, stride: 1, padding: 'same' });
  out.push({ batch: 1, h: 3, w: 300, cin: 1, cout: 3, kh: 3, kw: 3, stride: 1, padding: 'same' });
  out.push({ batch: 3, h: 8, w: 7, cin: 3, cout: 9, kh: 2, kw: 3, stride: 2, padding: 1 });
  return out;
}

const name = (s: Conv2dShape) => `x=[${s.batch},${s.h},${s.w},${s.cin}] w=[${s.kh},${s.kw},${s.cin},${s.cout}] s=${s.stride} p=${s.padding}`;

describe.each(SIMD_BUILDS)('f32_conv2d (implicit GEMM and direct paths, %s build) fwd / bwd_input / bwd_filter: simd vs scalar vs float64', async (build) => {
  const simd = await simdEngine(build);
  const scalar = await engineFor('scalar');
  // Tolerance: f32 rounding of a sum of `terms` products of values in [-1, 1].
  const tol = (key: 'y' | 'dx' | 'dw', g: Conv2dGeometry) => {
    const terms = key === 'dw' ? g.batch * g.oh * g.ow : g.kh * g.kw * Math.max(g.cin, g.cout);
    return { atol: 2e-6 * Math.sqrt(terms) * 4, rtol: 1e-4 };
  };
  it.each(shapes().map((s, i) => ({ s, i, label: name(s) })))('$label', ({ s, i }) => checkConvCase(simd, scalar, s, 'gemm', 100 + i, i, tol));
});

describe('conv2d adjoint tests', async () => {
  const engine = await engineFor('simd');
  it.each([
    { batch: 2, h: 7, w: 5, cin: 3, cout: 4, kh: 3, kw: 3, stride: 1, padding: 'same' as const },
    { batch: 2, h: 8, w: 9, cin: 5, cout: 9, kh: 5, kw: 5, stride: 2, padding: 'same' as const },
    { batch: 1, h: 9, w: 9, cin: 4, cout: 3, kh: 3, kw: 3, stride: 2, padding: 'valid' as const },
    { batch: 2, h: 14, w: 14, cin: 32, cout: 64, kh: 5, kw: 5, stride: 1, padding: 'same' as const },
  ])('<conv(x,w), u> = <x, Aᵀ_x u> = <w, Aᵀ_w u>  %o', (s) => checkConvAdjoint(engine, s, 'gemm', 7));
});

describe('conv2d geometry and argument checks', async () => {
  const engine = await engineFor('simd');
  it('SAME and VALID output sizes follow TF; explicit padding follows PyTorch', () => {
    expect(conv2dGeometry({ batch: 1, h: 28, w: 28, cin: 1, cout: 32, kh: 5, kw: 5, padding: 'same' })).toMatchObject({ oh: 28, ow: 28, padTop: 2, padLeft: 2 });
    expect(conv2dGeometry({ batch: 1, h: 7, w: 8, cin: 1, cout: 1, kh: 3, kw: 3, stride: 2, padding: 'same' })).toMatchObject({ oh: 4, ow: 4, padTop: 1, padLeft: 0 });
    expect(conv2dGeometry({ batch: 1, h: 7, w: 7, cin: 1, cout: 1, kh: 3, kw: 3, stride: 2, padding: 'valid' })).toMatchObject({ oh: 3, ow: 3, padTop: 0 });
    expect(conv2dGeometry({ batch: 1, h: 28, w: 28, cin: 1, cout: 1, kh: 5, kw: 5, padding: 2 })).toMatchObject({ oh: 28, ow: 28, padTop: 2 });
  });
  it.each([
    [{ h: 0 }, /h must be an integer ≥ 1/],
    [{ cin: 1.5 }, /cin must be an integer/],
    [{ stride: 0 }, /stride must be an integer ≥ 1/],
    [{ batch: -1 }, /batch must be an integer ≥ 0/],
    [{ kh: 9, padding: 'valid' }, /larger than the padded input/],
    [{ padding: 'full' }, /padding must be 'same', 'valid'/],
  ])('geometry %o', (over, msg) => {
    expect(() => conv2dGeometry({ batch: 1, h: 5, w: 5, cin: 2, cout: 3, kh: 3, kw: 3, padding: 'same', ...(over as object) } as Conv2dShape)).toThrow(msg);
  });
  it('buffers of the wrong length name the argument', () => {
    const g = conv2dGeometry({ batch: 2, h: 5, w: 5, cin: 2, cout: 3, kh: 3, kw: 3, padding: 'same' });
    engine.arena.scope(() => {
      const x = engine.arena.allocF32(g.xSize), w = engine.arena.allocF32(g.wSize), y = engine.arena.allocF32(g.ySize);
      expect(() => conv2dForward(engine, { x: { ptr: x.ptr, length: g.xSize - 1 }, w, y, geom: g })).toThrow(/conv2dForward: x has 99 floats, expected 100/);
      expect(() => conv2dForward(engine, { x, w, y, bias: { ptr: y.ptr, length: 2 }, geom: g })).toThrow(/bias has 2 floats, expected 3/);
      expect(() => conv2dBackwardInput(engine, { dy: x, w, dx: x, geom: g })).toThrow(/conv2dBackwardInput: dy has 100 floats, expected 150/);
      expect(() => conv2dBackwardFilter(engine, { x, dy: y, dw: y, geom: g })).toThrow(/conv2dBackwardFilter: dw has 150 floats, expected 54/);
    });
  });
  it.each(['gemm', 'winograd'] as const)('an output overlapping an input is an error naming both (%s)', (algorithm) => {
    // 5×5 stride 1 with 8 channels: Winograd applies, so both code paths are guarded.
    const g = conv2dGeometry({ batch: 1, h: 4, w: 4, cin: 8, cout: 8, kh: 5, kw: 5, padding: 'same' });
    engine.arena.scope(() => {
      const big = engine.arena.allocF32(g.xSize + g.ySize + g.wSize);
      const at = (offset: number, length: number) => ({ ptr: big.ptr + 4 * offset, length });
      const x = engine.arena.allocF32(g.xSize), w = engine.arena.allocF32(g.wSize), y = engine.arena.allocF32(g.ySize);
      const bias = engine.arena.allocF32(g.cout);
      expect(() => conv2dForward(engine, { x: at(0, g.xSize), w, y: at(g.xSize - 1, g.ySize), geom: g, algorithm })).toThrow(/conv2dForward: x and y overlap/);
      expect(() => conv2dForward(engine, { x, w: at(0, g.wSize), y: at(1, g.ySize), geom: g, algorithm })).toThrow(/conv2dForward: w and y overlap/);
      expect(() => conv2dForward(engine, { x, w, bias: { ptr: y.ptr, length: g.cout }, y, geom: g, algorithm })).toThrow(/conv2dForward: bias and y overlap/);
      expect(() => conv2dBackwardInput(engine, { dy: y, w, dx: { ptr: y.ptr, length: g.xSize }, geom: g, algorithm })).toThrow(/conv2dBackwardInput: dy and dx overlap/);
      expect(() => conv2dBackwardInput(engine, { dy: y, w: at(0, g.wSize), dx: at(4, g.xSize), geom: g, algorithm })).toThrow(/conv2dBackwardInput: w and dx overlap/);
      expect(() => conv2dBackwardFilter(engine, { x: at(0, g.xSize), dy: y, dw: at(g.xSize - 3, g.wSize), geom: g, algorithm })).toThrow(/conv2dBackwardFilter: x and dw overlap/);
      expect(() => conv2dBackwardFilter(engine, { x, dy: at(0, g.ySize), dw: at(7, g.wSize), geom: g, algorithm })).toThrow(/conv2dBackwardFilter: dy and dw overlap/);
      // Disjoint buffers pass.
      conv2dForward(engine, { x, w, bias, y, geom: g, algorithm });
    });
  });
});
