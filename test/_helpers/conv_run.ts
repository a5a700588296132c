// Runs the three conv2d passes on guarded copies of the inputs with one algorithm, checks that only
// that algorithm's kernels ran and that no guard value was overwritten, and returns the outputs.
import { expect } from 'vitest';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dGeometry, type ConvAlgorithm, type Conv2dShape } from '../../src/kernels/conv2d.ts';
import type { Engine } from '../../src/wasm/engine.ts';
import { checkGuards, guarded, guardedFrom } from './engine.ts';

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
