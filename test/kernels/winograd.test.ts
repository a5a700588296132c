// Winograd F(2×2, 5×5) convolution (assembly/winograd.ts) through the conv2d wrappers with
// algorithm 'winograd': SIMD vs scalar twin vs a float64 direct convolution, over odd sizes
// (partial last tiles), channel counts around the vector widths (4 for the transforms, 8 for the
// GEMM panels), every padding the input-gradient path accepts, bias and ReLU; adjoint identities;
// and which algorithm 'auto' picks.
import { describe, expect, it } from 'vitest';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dGeometry, winogradApplies, type Conv2dGeometry, type Conv2dShape } from '../../src/kernels/conv2d.ts';
import type { Engine } from '../../src/wasm/engine.ts';
import { loadEngine } from '../../src/wasm/load.ts';
import { checkConvAdjoint, checkConvCase } from '../_helpers/conv_run.ts';
import { engineFor, SIMD_BUILDS, simdEngine } from '../_helpers/engine.ts';

function shapes(): Conv2dShape[] {
  const out: Conv2dShape[] = [];
  const sizes = [[1, 1], [2, 3], [5, 5], [6, 7], [9, 4], [14, 14]], chans = [1, 3, 4, 5, 8, 9, 17];
  const paddings: Conv2dShape['padding'][] = ['same', 'valid', 0, 1, 3, 4];
  let i = 0;
  for (const cin of chans) for (const cout of chans) {
    const [h, w] = sizes[i % sizes.length];
    let padding = paddings[(i * 5) % paddings.length];
    // 'valid' (pad 0) needs the input to be at least 5×5.
    if ((padding === 'valid' || padding === 0) && (h < 5 || w < 5)) padding = 'same';
    out.push({ batch: 1 + (i % 3), h, w, cin, cout, kh: 5, kw: 5, stride: 1, padding });
    i++;
  }
  out.push({ batch: 3, h: 14, w: 14, cin: 32, cout: 64, kh: 5, kw: 5, stride: 1, padding: 'same' });
  out.push({ batch: 2, h: 28, w: 28, cin: 8, cout: 16, kh: 5, kw: 5, stride: 1, padding: 'same' });
  return out;
}

const label = (s: Conv2dShape) => `x=[${s.batch},${s.h},${s.w},${s.cin}] cout=${s.cout} p=${s.padding}`;

describe.each(SIMD_BUILDS)('winograd F(2×2, 5×5) (%s build): simd vs scalar vs float64 direct convolution', async (build) => {
  const simd = await simdEngine(build);
  const scalar = await engineFor('scalar');
  // NOTE: Winograd's transforms carry terms up to ~25× the direct products (Bᵀ and G entries),
  // so its f32 error is larger than the direct sum's: measured max |error| / √terms over these
  // shapes 6.6e-6 (y), 5.0e-6 (dx), 1.1e-5 (dw); bounded at 4e-5·√terms (+ 1e-4 relative).
  const tol = (key: 'y' | 'dx' | 'dw', g: Conv2dGeometry) => {
    const terms = { y: 25 * g.cin, dx: 25 * g.cout, dw: g.batch * g.oh * g.ow }[key];
    return { atol: 1e-5 * Math.sqrt(terms) * 4, rtol: 1e-4 };
  };
  it.each(shapes().map((s, i) => ({ s, i, name: label(s) })))('$name', ({ s, i }) => checkConvCase(simd, scalar, s, 'winograd', 500 + i, i, tol));
});

describe('winograd adjoint identities: <conv(x, w), u> = <x, Aᵀ_x u> = <w, Aᵀ_w u>', async () => {
  const engine = await engineFor('simd');
  it.each([
    { batch: 2, h: 7, w: 9, cin: 5, cout: 9, kh: 5, kw: 5, stride: 1, padding: 'same' as const },
    { batch: 1, h: 11, w: 6, cin: 8, cout: 3, kh: 5, kw: 5, stride: 1, padding: 'valid' as const },
    { batch: 3, h: 14, w: 14, cin: 32, cout: 64, kh: 5, kw: 5, stride: 1, padding: 'same' as const },
  ])('%o', (s) => checkConvAdjoint(engine, s, 'winograd', 9));
});

describe('algorithm choice', async () => {
  const engine = await engineFor('simd');
  const called = (s: Conv2dShape, pass: 'fwd' | 'bwd_input' | 'bwd_filter', algorithm?: 'auto' | 'gemm' | 'winograd') => {
    const g = conv2dGeometry(s);
    return engine.arena.scope(() => {
      const x = engine.arena.allocF32(g.xSize), w = engine.arena.allocF32(g.wSize), y = engine.arena.allocF32(g.ySize);
      engine.view(x).fill(0.5);
      engine.view(w).fill(0.25);
      engine.view(y).fill(1);
      engine.calls.clear();
      if (pass === 'fwd') conv2dForward(engine, { x, w, y, geom: g, algorithm });
      else if (pass === 'bwd_input') conv2dBackwardInput(engine, { dy: y, w, dx: x, geom: g, algorithm });
      else conv2dBackwardFilter(engine, { x, dy: y, dw: w, geom: g, algorithm });
      return [...engine.calls.keys()].filter((k) => k.startsWith('f32_conv2d') || k === 'f32_winograd_fwd' || k === 'f32_winograd_bwd_filter');
    });
  };
  const conv1 = { batch: 2, h: 28, w: 28, cin: 1, cout: 32, kh: 5, kw: 5, stride: 1, padding: 'same' as const };
  const conv2 = { batch: 2, h: 14, w: 14, cin: 32, cout: 64, kh: 5, kw: 5, stride: 1, padding: 'same' as const };

  it("'auto' takes Winograd for the paper's conv2 and the implicit GEMM for conv1 (one input channel)", () => {
    expect(called(conv2, 'fwd')).toEqual(['f32_winograd_fwd']);
    expect(called(conv2, 'bwd_input')).toEqual(['f32_winograd_fwd']);
    expect(called(conv2, 'bwd_filter')).toEqual(['f32_winograd_bwd_filter']);
    expect(called(conv1, 'fwd')).toEqual(['f32_conv2d_fwd']);
    expect(called(conv1, 'bwd_input')).toEqual(['f32_conv2d_bwd_input']);
    expect(called(conv2, 'fwd', 'gemm')).toEqual(['f32_conv2d_fwd']);
  });

  it('Winograd applies to 5×5 stride-1 convolutions only (input gradient: padding ≤ 4)', () => {
    expect(winogradApplies(conv2dGeometry(conv2), 'fwd')).toBe(true);
    expect(winogradApplies(conv2dGeometry({ ...conv2, kh: 3, kw: 3 }), 'fwd')).toBe(false);
    expect(winogradApplies(conv2dGeometry({ ...conv2, stride: 2 }), 'fwd')).toBe(false);
    expect(winogradApplies(conv2dGeometry({ ...conv2, padding: 5 }), 'fwd')).toBe(true);
    expect(winogradApplies(conv2dGeometry({ ...conv2, padding: 5 }), 'bwd_input')).toBe(false);
    expect(called({ ...conv2, padding: 5 }, 'bwd_input')).toEqual(['f32_conv2d_bwd_input']);
  });

  it("forcing 'winograd' where it cannot run, or an unknown algorithm, is an error naming the call", () => {
    expect(() => called({ ...conv2, kh: 3, kw: 3 }, 'fwd', 'winograd')).toThrow(/conv2dForward: algorithm 'winograd' needs a 5×5 kernel, stride 1/);
    expect(() => called({ ...conv2, stride: 2 }, 'bwd_filter', 'winograd')).toThrow(/conv2dBackwardFilter: algorithm 'winograd'/);
    expect(() => called({ ...conv2, padding: 5 }, 'bwd_input', 'winograd')).toThrow(/padding ≤ 4/);
    expect(() => called(conv2, 'fwd', 'fft' as never)).toThrow(/algorithm must be 'auto', 'gemm' or 'winograd', got fft/);
  });
});

describe('engine-wide convAlgorithm (loadEngine option, env MULTIROBUST_CONV)', () => {
  const conv2 = conv2dGeometry({ batch: 1, h: 14, w: 14, cin: 32, cout: 64, kh: 5, kw: 5, stride: 1, padding: 'same' });
  const conv3x3 = conv2dGeometry({ batch: 1, h: 8, w: 8, cin: 16, cout: 16, kh: 3, kw: 3, stride: 1, padding: 'same' });
  const forwardKernels = (engine: Engine, g: ReturnType<typeof conv2dGeometry>, algorithm?: 'gemm' | 'winograd') => engine.arena.scope(() => {
    const x = engine.arena.allocF32(g.xSize), w = engine.arena.allocF32(g.wSize), y = engine.arena.allocF32(g.ySize);
    engine.view(x).fill(1);
    engine.view(w).fill(1);
    engine.calls.clear();
    conv2dForward(engine, { x, w, y, geom: g, algorithm });
    return [...engine.calls.keys()].filter((k) => k === 'f32_conv2d_fwd' || k === 'f32_winograd_fwd');
  });

  it("'gemm' keeps every convolution on the implicit GEMM; a call's own algorithm still wins", async () => {
    const engine = await loadEngine({ threads: 1, convAlgorithm: 'gemm' });
    try {
      expect(forwardKernels(engine, conv2)).toEqual(['f32_conv2d_fwd']);
      expect(forwardKernels(engine, conv2, 'winograd')).toEqual(['f32_winograd_fwd']);
    } finally {
      await engine.close();
    }
  });

  it("'winograd' takes it wherever it applies (any channel count) and the GEMM elsewhere", async () => {
    const engine = await loadEngine({ threads: 1, convAlgorithm: 'winograd' });
    try {
      expect(forwardKernels(engine, conv2dGeometry({ batch: 1, h: 9, w: 9, cin: 1, cout: 2, kh: 5, kw: 5, stride: 1, padding: 'same' }))).toEqual(['f32_winograd_fwd']);
      expect(forwardKernels(engine, conv3x3)).toEqual(['f32_conv2d_fwd']);
    } finally {
      await engine.close();
    }
  });

  it('an unknown value is rejected by name', async () => {
    await expect(loadEngine({ threads: 1, convAlgorithm: 'fft' as never })).rejects.toThrow(/convAlgorithm must be 'auto', 'gemm' or 'winograd' \(MULTIROBUST_CONV\), got 'fft'/);
  });
});
