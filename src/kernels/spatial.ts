// TS wrappers of the bilinear rotation-translation kernels (assembly/bilinear.ts) on arena buffers.
// Shapes: images (batch, h, w, c) NHWC f32; params (batch, 3) = (θ radians, tx, ty pixels) per
// example; gradParams (batch, 3). Output pixel (i, j) samples the input at
// s = R(θ)·((j, i) − (tx, ty) − centre) + centre, centre = ((w−1)/2, (h−1)/2), R(θ) = [[cos, −sin], [sin, cos]]
// (θ = 0: content moves by +tx columns, +ty rows), bilinear with zero fill. Threading: examples.
import type { Engine } from '../wasm/engine.ts';
import { Params } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { checkBuf, checkInt } from './check.ts';

export interface SpatialShape {
  batch: number;
  h: number;
  w: number;
  c: number;
  /** (batch, 3): θ radians, tx, ty (pixels) per example. */
  params: F32Buf;
}

/**
 * Estimated cost (flops, engine.run) per output value. NOTE: measured, not counted: a SIMD bilinear
 * pass takes ≈ 3–4 ns per value (gathers, a scatter), about what GEMM does in 100–150 flops.
 */
const COST_PER_VALUE = 120;

function shape(fn: string, a: SpatialShape): number {
  const batch = checkInt(fn, 'batch', a.batch);
  const h = checkInt(fn, 'h', a.h, 1), w = checkInt(fn, 'w', a.w, 1), c = checkInt(fn, 'c', a.c, 1);
  if (h * w * c >= 2 ** 24) throw new RangeError(`${fn}: an image must have fewer than 2^24 floats, got h·w·c = ${h * w * c}`);
  checkBuf(fn, 'params', a.params, batch * 3);
  return batch * h * w * c;
}

/** y = T(x). */
export function spatialForward(engine: Engine, a: SpatialShape & { x: F32Buf; y: F32Buf }): void {
  const fn = 'spatialForward';
  const n = shape(fn, a);
  checkBuf(fn, 'x', a.x, n);
  checkBuf(fn, 'y', a.y, n);
  if (a.x.ptr === a.y.ptr) throw new RangeError(`${fn}: y must not alias x`);
  engine.run('f32_bilinear_fwd', new Params().i32(a.batch).i32(a.h).i32(a.w).i32(a.c).ptr(a.params).ptr(a.x).ptr(a.y), a.batch, COST_PER_VALUE * n);
}

/** gx = Tᵀ gy (overwrites gx): the adjoint of spatialForward with respect to the image. */
export function spatialBackwardInput(engine: Engine, a: SpatialShape & { gy: F32Buf; gx: F32Buf }): void {
  const fn = 'spatialBackwardInput';
  const n = shape(fn, a);
  checkBuf(fn, 'gy', a.gy, n);
  checkBuf(fn, 'gx', a.gx, n);
  if (a.gx.ptr === a.gy.ptr) throw new RangeError(`${fn}: gx must not alias gy`);
  engine.run('f32_bilinear_bwd_input', new Params().i32(a.batch).i32(a.h).i32(a.w).i32(a.c).ptr(a.params).ptr(a.gy).ptr(a.gx), a.batch, COST_PER_VALUE * n);
}

/** gradParams[n] = ∂⟨gy[n], T(x)[n]⟩/∂(θ, tx, ty) per example. */
export function spatialBackwardParams(engine: Engine, a: SpatialShape & { x: F32Buf; gy: F32Buf; gradParams: F32Buf }): void {
  const fn = 'spatialBackwardParams';
  const n = shape(fn, a);
  checkBuf(fn, 'x', a.x, n);
  checkBuf(fn, 'gy', a.gy, n);
  checkBuf(fn, 'gradParams', a.gradParams, a.batch * 3);
  const p = new Params().i32(a.batch).i32(a.h).i32(a.w).i32(a.c).ptr(a.params).ptr(a.x).ptr(a.gy).ptr(a.gradParams);
  engine.run('f32_bilinear_bwd_params', p, a.batch, COST_PER_VALUE * n);
}
