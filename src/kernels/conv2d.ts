// TS wrappers of the f32_conv2d kernels (assembly/conv2d.ts).
// Layouts: x (N, H, W, Cin) NHWC, w (KH, KW, Cin, Cout) HWIO, y (N, OH, OW, Cout), bias (Cout).
// This file does all shape arithmetic (conv2dGeometry) and validates every argument before a call.
// Threading: fwd splits output rows, bwd_input input rows (both independent); bwd_filter splits
// images and reduces per-thread partial filter gradients in a fixed order.
import type { Engine } from '../wasm/engine.ts';
import { Params } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { checkBuf, checkInt } from './check.ts';

/** 'same' (TF: OH = ceil(H/s), extra padding at the bottom/right), 'valid', or explicit symmetric padding. */
export type Padding = 'same' | 'valid' | number;

export interface Conv2dShape {
  batch: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  kh: number;
  kw: number;
  stride?: number;
  padding?: Padding;
}

export interface Conv2dGeometry {
  readonly batch: number;
  readonly h: number;
  readonly w: number;
  readonly cin: number;
  readonly cout: number;
  readonly kh: number;
  readonly kw: number;
  readonly stride: number;
  readonly oh: number;
  readonly ow: number;
  readonly padTop: number;
  readonly padLeft: number;
  /** Float counts of x, w, y. */
  readonly xSize: number;
  readonly wSize: number;
  readonly ySize: number;
  /** 2·MACs of one forward pass. */
  readonly flops: number;
}

function samePadding(size: number, k: number, s: number): [out: number, before: number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  return [out, Math.floor(total / 2)];
}

/** Output size and padding of a convolution, as TF (SAME/VALID) or PyTorch (explicit padding) define them. */
export function conv2dGeometry(shape: Conv2dShape): Conv2dGeometry {
  const fn = 'conv2dGeometry';
  const batch = checkInt(fn, 'batch', shape.batch);
  const h = checkInt(fn, 'h', shape.h, 1), w = checkInt(fn, 'w', shape.w, 1);
  const cin = checkInt(fn, 'cin', shape.cin, 1), cout = checkInt(fn, 'cout', shape.cout, 1);
  const kh = checkInt(fn, 'kh', shape.kh, 1), kw = checkInt(fn, 'kw', shape.kw, 1);
  const stride = checkInt(fn, 'stride', shape.stride ?? 1, 1);
  const padding = shape.padding ?? 'valid';
  let oh: number, ow: number, padTop: number, padLeft: number;
  if (padding === 'same') {
    [oh, padTop] = samePadding(h, kh, stride);
    [ow, padLeft] = samePadding(w, kw, stride);
  } else if (padding === 'valid' || typeof padding === 'number') {
    const p = padding === 'valid' ? 0 : checkInt(fn, 'padding', padding);
    oh = Math.floor((h + 2 * p - kh) / stride) + 1;
    ow = Math.floor((w + 2 * p - kw) / stride) + 1;
    padTop = padLeft = p;
    if (oh < 1 || ow < 1) throw new RangeError(`${fn}: kernel ${kh}×${kw} is larger than the padded input ${h + 2 * p}×${w + 2 * p}`);
  } else {
    throw new RangeError(`${fn}: padding must be 'same', 'valid' or a non-negative integer, got ${padding}`);
  }
  return {
    batch, h, w, cin, cout, kh, kw, stride, oh, ow, padTop, padLeft,
    xSize: batch * h * w * cin,
    wSize: kh * kw * cin * cout,
    ySize: batch * oh * ow * cout,
    flops: 2 * batch * oh * ow * cout * kh * kw * cin,
  };
}

function geometryParams(p: Params, g: Conv2dGeometry, relu: boolean): Params {
  return p.i32(g.batch).i32(g.h).i32(g.w).i32(g.cin).i32(g.oh).i32(g.ow).i32(g.cout)
    .i32(g.kh).i32(g.kw).i32(g.stride).i32(g.padTop).i32(g.padLeft).i32(relu ? 2 : 0);
}

/** y = act(conv(x, w) + bias). Overwrites y. */
export function conv2dForward(engine: Engine, a: { x: F32Buf; w: F32Buf; bias?: F32Buf | null; y: F32Buf; geom: Conv2dGeometry; relu?: boolean }): void {
  const fn = 'conv2dForward', g = a.geom;
  checkBuf(fn, 'x', a.x, g.xSize, true);
  checkBuf(fn, 'w', a.w, g.wSize, true);
  checkBuf(fn, 'y', a.y, g.ySize, true);
  if (a.bias) checkBuf(fn, 'bias', a.bias, g.cout, true);
  const p = geometryParams(new Params().ptr(a.x).ptr(a.w).ptr(a.bias).ptr(a.y), g, !!a.relu);
  engine.run('f32_conv2d_fwd', p, g.batch * g.oh, g.flops);
}

/** dx = ∂⟨dy, conv(x, w)⟩/∂x. Overwrites dx. */
export function conv2dBackwardInput(engine: Engine, a: { dy: F32Buf; w: F32Buf; dx: F32Buf; geom: Conv2dGeometry }): void {
  const fn = 'conv2dBackwardInput', g = a.geom;
  checkBuf(fn, 'dy', a.dy, g.ySize, true);
  checkBuf(fn, 'w', a.w, g.wSize, true);
  checkBuf(fn, 'dx', a.dx, g.xSize, true);
  const p = geometryParams(new Params().ptr(a.dx).ptr(a.w).i32(0).ptr(a.dy), g, false);
  engine.run('f32_conv2d_bwd_input', p, g.batch * g.h, g.flops);
}

/** dw = ∂⟨dy, conv(x, w)⟩/∂w. Overwrites dw. */
export function conv2dBackwardFilter(engine: Engine, a: { x: F32Buf; dy: F32Buf; dw: F32Buf; geom: Conv2dGeometry }): void {
  const fn = 'conv2dBackwardFilter', g = a.geom;
  checkBuf(fn, 'x', a.x, g.xSize, true);
  checkBuf(fn, 'dy', a.dy, g.ySize, true);
  checkBuf(fn, 'dw', a.dw, g.wSize, true);
  const p = geometryParams(new Params().ptr(a.x).i32(0).i32(0).ptr(a.dy), g, false);
  engine.reduce('f32_conv2d_bwd_filter', p, g.batch, a.dw, g.flops);
}
