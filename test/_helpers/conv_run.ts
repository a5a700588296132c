// The conv2d kernel suites' shared checks, one algorithm at a time: the three passes on guarded
// copies (only that algorithm's kernels may run, no guard value may change), SIMD vs scalar vs a
// float64 direct convolution, and the adjoint identities.
import { expect } from 'vitest';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dGeometry, type ConvAlgorithm, type Conv2dGeometry, type Conv2dShape } from '../../src/kernels/conv2d.ts';
import type { Engine } from '../../src/wasm/engine.ts';
import { assertClose, type Tol } from './close.ts';
import { conv2dBackwardFilterRef, conv2dBackwardInputRef, conv2dRef } from './conv_reference.ts';
import { checkGuards, guarded, guardedFrom } from './engine.ts';
import { dot, rng, uniform } from './rng.ts';

const KERNELS: Record<'gemm' | 'winograd', string[]> = {
  gemm: ['f32_conv2d_bwd_filter', 'f32_conv2d_bwd_input', 'f32_conv2d_fwd'],
  winograd: ['f32_winograd_bwd_filter', 'f32_winograd_filter', 'f32_winograd_filter_bwd', 'f32_winograd_fwd'],
};

export function runConvPasses(engine: Engine, s: Conv2dShape, algorithm: 'gemm' | 'winograd',
                              x: Float32Array, w: Float32Array, bias: Float32Array | null, dy: Float32Array, relu: boolean) {
  const g = conv2dGeometry(s);
  const a: ConvAlgorithm = algorithm;
  return engine.arena.scope(() => {
    const X = guardedFrom(engine, x), Wt = guardedFrom(engine, w), DY = guardedFrom(engine, dy);
    const B = bias ? guardedFrom(engine, bias) : null;
    const Y = guarded(engine, g.ySize), DX = guarded(engine, g.xSize), DW = guarded(engine, g.wSize);
    engine.calls.clear();
    conv2dForward(engine, { x: X, w: Wt, bias: B, y: Y, geom: g, relu, algorithm: a });
    conv2dBackwardInput(engine, { dy: DY, w: Wt, dx: DX, geom: g, algorithm: a });
    conv2dBackwardFilter(engine, { x: X, dy: DY, dw: DW, geom: g, algorithm: a });
    expect([...engine.calls.keys()].sort(), 'kernels called').toEqual(KERNELS[algorithm]);
    for (const [buf, name] of [[Y, 'y'], [DX, 'dx'], [DW, 'dw'], [X, 'x'], [DY, 'dy'], [Wt, 'w']] as const) checkGuards(engine, buf, name);
    return { y: engine.toF32(Y), dx: engine.toF32(DX), dw: engine.toF32(DW) };
  });
}

/**
 * Case `index` of a sweep: seeded inputs (bias on odd cases, ReLU on every third), the passes on
 * both engines, each output against the float64 reference and SIMD against scalar within tol(key, g).
 */
export function checkConvCase(simd: Engine, scalar: Engine, s: Conv2dShape, algorithm: 'gemm' | 'winograd', seed: number, index: number,
                              tol: (key: 'y' | 'dx' | 'dw', g: Conv2dGeometry) => Tol): void {
  const g = conv2dGeometry(s);
  const rand = rng(seed);
  const x = uniform(rand, g.xSize), w = uniform(rand, g.wSize), dy = uniform(rand, g.ySize);
  const bias = index % 2 ? uniform(rand, g.cout) : null;
  const relu = index % 3 === 0;
  const want = { y: conv2dRef(g, x, w, bias, relu), dx: conv2dBackwardInputRef(g, dy, w), dw: conv2dBackwardFilterRef(g, x, dy) };
  const a = runConvPasses(simd, s, algorithm, x, w, bias, dy, relu);
  const b = runConvPasses(scalar, s, algorithm, x, w, bias, dy, relu);
  for (const key of ['y', 'dx', 'dw'] as const) {
    const t = tol(key, g);
    assertClose(`${key} simd vs float64`, a[key], want[key], t);
    assertClose(`${key} scalar vs float64`, b[key], want[key], t);
    assertClose(`${key} simd vs scalar`, a[key], b[key], t);
  }
}

/** ⟨conv(x, w), u⟩ = ⟨x, Aᵀ_x u⟩ = ⟨w, Aᵀ_w u⟩ with the given algorithm, to 1e-4·√(terms). */
export function checkConvAdjoint(engine: Engine, s: Conv2dShape, algorithm: 'gemm' | 'winograd', seed: number): void {
  const g = conv2dGeometry(s);
  const rand = rng(seed);
  const x = uniform(rand, g.xSize), w = uniform(rand, g.wSize), u = uniform(rand, g.ySize);
  engine.arena.scope(() => {
    const X = engine.fromF32(x), W = engine.fromF32(w), U = engine.fromF32(u);
    const Y = engine.arena.allocF32(g.ySize), DX = engine.arena.allocF32(g.xSize), DW = engine.arena.allocF32(g.wSize);
    conv2dForward(engine, { x: X, w: W, y: Y, geom: g, algorithm });
    conv2dBackwardInput(engine, { dy: U, w: W, dx: DX, geom: g, algorithm });
    conv2dBackwardFilter(engine, { x: X, dy: U, dw: DW, geom: g, algorithm });
    const lhs = dot(engine.toF32(Y), u);
    const scale = 1e-4 * Math.sqrt(g.ySize * g.kh * g.kw * g.cin);
    expect(Math.abs(lhs - dot(x, engine.toF32(DX))), 'via the input gradient').toBeLessThan(scale);
    expect(Math.abs(lhs - dot(w, engine.toF32(DW))), 'via the filter gradient').toBeLessThan(scale);
  });
}
