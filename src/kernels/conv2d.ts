// TS wrappers of the f32_conv2d kernels (assembly/conv2d.ts).
// Layouts: x (N, H, W, Cin) NHWC, w (KH, KW, Cin, Cout) HWIO, y (N, OH, OW, Cout), bias (Cout).
// This file does all shape arithmetic (conv2dGeometry) and validates every argument before a call.
// Algorithms: implicit GEMM (assembly/conv2d.ts) for every shape, and Winograd F(2×2, 5×5)
// (assembly/winograd.ts) for 5×5 stride-1 convolutions. A call's `algorithm`, else the engine's
// convAlgorithm (default 'auto': Winograd where it applies and both channel counts are
// ≥ WINOGRAD_MIN_CHANNELS), picks one.
// Threading: fwd splits output rows (GEMM) or output tiles (Winograd), bwd_input input rows or
// tiles (all independent); bwd_filter splits images or tiles and reduces per-thread partials in a
// fixed order.
import type { Engine } from '../wasm/engine.ts';
import { Params } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { checkBuf, checkDisjoint, checkInt } from './check.ts';

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

/** 'gemm': implicit GEMM; 'winograd': F(2×2, 5×5) (5×5 kernels, stride 1); 'auto': Winograd when it applies and pays. */
export type ConvAlgorithm = 'auto' | 'gemm' | 'winograd';

/** Below this many input or output channels 'auto' keeps the implicit GEMM (the transforms would dominate). */
export const WINOGRAD_MIN_CHANNELS = 8;

type ConvPass = 'fwd' | 'bwd_input' | 'bwd_filter';

/** Whether Winograd F(2×2, 5×5) can run `pass` of this convolution (bwd_input: padding ≤ 4, as it convolves dy with padding 4 − pad). */
export function winogradApplies(g: Conv2dGeometry, pass: ConvPass): boolean {
  if (g.kh !== 5 || g.kw !== 5 || g.stride !== 1) return false;
  return pass !== 'bwd_input' || (g.padTop <= 4 && g.padLeft <= 4);
}

/** Whether this call runs on Winograd: `algorithm` of the call, else the engine's convAlgorithm. */
function useWinograd(engine: Engine, fn: string, g: Conv2dGeometry, pass: ConvPass, algorithm: ConvAlgorithm | undefined): boolean {
  const algo = algorithm ?? engine.convAlgorithm;
  if (algo === 'gemm') return false;
  if (algo === 'winograd') {
    // The engine-wide setting falls back to the GEMM where Winograd cannot run; a call that asks for it fails.
    if (algorithm === undefined) return winogradApplies(g, pass);
    if (!winogradApplies(g, pass)) throw new RangeError(`${fn}: algorithm 'winograd' needs a 5×5 kernel, stride 1 (and padding ≤ 4 for the input gradient); got ${g.kh}×${g.kw}, stride ${g.stride}, padding ${g.padTop}/${g.padLeft}`);
    return true;
  }
  if (algo !== 'auto') throw new RangeError(`${fn}: algorithm must be 'auto', 'gemm' or 'winograd', got ${String(algorithm)}`);
  return winogradApplies(g, pass) && Math.min(g.cin, g.cout) >= WINOGRAD_MIN_CHANNELS;
}

const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

/** U = the transformed filter of a Winograd convolution with K input and C output channels (flip: the input-gradient filter). */
function winogradFilter(engine: Engine, w: F32Buf, g: Conv2dGeometry, flip: boolean): F32Buf {
  const K = flip ? g.cout : g.cin, C = flip ? g.cin : g.cout;
  const U = engine.arena.allocF32(36 * roundUp(K, 4) * roundUp(C, 8));
  const p = new Params().ptr(w).ptr(U).i32(g.cin).i32(g.cout).i32(flip ? 1 : 0);
  engine.run('f32_winograd_filter', p, roundUp(K, 4), 36 * 40 * roundUp(K, 4) * roundUp(C, 8));
  return U;
}

/** Runs f32_winograd_fwd: y (N, OH, OW, C) = act(bias + conv(x (N, H, W, K), U)). */
function winogradForward(engine: Engine, a: { x: F32Buf; U: F32Buf; bias: F32Buf | null; y: F32Buf; n: number; h: number; w: number; k: number; oh: number; ow: number; c: number; padTop: number; padLeft: number; relu: boolean }): void {
  const tiles = a.n * Math.ceil(a.oh / 2) * Math.ceil(a.ow / 2);
  const p = new Params().ptr(a.x).ptr(a.U).ptr(a.bias).ptr(a.y).i32(a.n).i32(a.h).i32(a.w).i32(a.k)
    .i32(a.oh).i32(a.ow).i32(a.c).i32(a.padTop).i32(a.padLeft).i32(a.relu ? 2 : 0);
  engine.run('f32_winograd_fwd', p, tiles, 2 * 36 * tiles * roundUp(a.k, 4) * roundUp(a.c, 8));
}

function geometryParams(p: Params, g: Conv2dGeometry, relu: boolean): Params {
  return p.i32(g.batch).i32(g.h).i32(g.w).i32(g.cin).i32(g.oh).i32(g.ow).i32(g.cout)
    .i32(g.kh).i32(g.kw).i32(g.stride).i32(g.padTop).i32(g.padLeft).i32(relu ? 2 : 0);
}

/** y = act(conv(x, w) + bias). Overwrites y. */
export function conv2dForward(engine: Engine, a: { x: F32Buf; w: F32Buf; bias?: F32Buf | null; y: F32Buf; geom: Conv2dGeometry; relu?: boolean; algorithm?: ConvAlgorithm }): void {
  const fn = 'conv2dForward', g = a.geom;
  checkBuf(fn, 'x', a.x, g.xSize, true);
  checkBuf(fn, 'w', a.w, g.wSize, true);
  checkBuf(fn, 'y', a.y, g.ySize, true);
  if (a.bias) checkBuf(fn, 'bias', a.bias, g.cout, true);
  checkDisjoint(fn, 'x', a.x, g.xSize, 'y', a.y, g.ySize);
  checkDisjoint(fn, 'w', a.w, g.wSize, 'y', a.y, g.ySize);
  checkDisjoint(fn, 'bias', a.bias, g.cout, 'y', a.y, g.ySize);
  if (useWinograd(engine, fn, g, 'fwd', a.algorithm)) {
    engine.arena.scope(() => {
      const U = winogradFilter(engine, a.w, g, false);
      winogradForward(engine, { x: a.x, U, bias: a.bias ?? null, y: a.y, n: g.batch, h: g.h, w: g.w, k: g.cin, oh: g.oh, ow: g.ow, c: g.cout, padTop: g.padTop, padLeft: g.padLeft, relu: !!a.relu });
    });
    return;
  }
  const p = geometryParams(new Params().ptr(a.x).ptr(a.w).ptr(a.bias).ptr(a.y), g, !!a.relu);
  engine.run('f32_conv2d_fwd', p, g.batch * g.oh, g.flops);
}

/** dx = ∂⟨dy, conv(x, w)⟩/∂x. Overwrites dx. */
export function conv2dBackwardInput(engine: Engine, a: { dy: F32Buf; w: F32Buf; dx: F32Buf; geom: Conv2dGeometry; algorithm?: ConvAlgorithm }): void {
  const fn = 'conv2dBackwardInput', g = a.geom;
  checkBuf(fn, 'dy', a.dy, g.ySize, true);
  checkBuf(fn, 'w', a.w, g.wSize, true);
  checkBuf(fn, 'dx', a.dx, g.xSize, true);
  checkDisjoint(fn, 'dy', a.dy, g.ySize, 'dx', a.dx, g.xSize);
  checkDisjoint(fn, 'w', a.w, g.wSize, 'dx', a.dx, g.xSize);
  if (useWinograd(engine, fn, g, 'bwd_input', a.algorithm)) {
    // Stride 1: dx = conv(dy, w flipped in space with in/out channels swapped), padding 4 − pad.
    engine.arena.scope(() => {
      const U = winogradFilter(engine, a.w, g, true);
      winogradForward(engine, { x: a.dy, U, bias: null, y: a.dx, n: g.batch, h: g.oh, w: g.ow, k: g.cout, oh: g.h, ow: g.w, c: g.cin, padTop: 4 - g.padTop, padLeft: 4 - g.padLeft, relu: false });
    });
    return;
  }
  const p = geometryParams(new Params().ptr(a.dx).ptr(a.w).i32(0).ptr(a.dy), g, false);
  engine.run('f32_conv2d_bwd_input', p, g.batch * g.h, g.flops);
}

/** dw = ∂⟨dy, conv(x, w)⟩/∂w. Overwrites dw. */
export function conv2dBackwardFilter(engine: Engine, a: { x: F32Buf; dy: F32Buf; dw: F32Buf; geom: Conv2dGeometry; algorithm?: ConvAlgorithm }): void {
  const fn = 'conv2dBackwardFilter', g = a.geom;
  checkBuf(fn, 'x', a.x, g.xSize, true);
  checkBuf(fn, 'dy', a.dy, g.ySize, true);
  checkBuf(fn, 'dw', a.dw, g.wSize, true);
  checkDisjoint(fn, 'x', a.x, g.xSize, 'dw', a.dw, g.wSize);
  checkDisjoint(fn, 'dy', a.dy, g.ySize, 'dw', a.dw, g.wSize);
  if (useWinograd(engine, fn, g, 'bwd_filter', a.algorithm)) {
    // dU = Σ_tiles (Bᵀ x B) ⊗ (A dy Aᵀ) reduced across threads, then dw = Gᵀ dU G.
    engine.arena.scope(() => {
      const KP = roundUp(g.cin, 4), CP = roundUp(g.cout, 8);
      const tiles = g.batch * Math.ceil(g.oh / 2) * Math.ceil(g.ow / 2);
      const dU = engine.arena.allocF32(36 * KP * CP);
      const p = new Params().ptr(a.x).ptr(a.dy).i32(g.batch).i32(g.h).i32(g.w).i32(g.cin).i32(g.oh).i32(g.ow).i32(g.cout).i32(g.padTop).i32(g.padLeft);
      engine.reduce('f32_winograd_bwd_filter', p, tiles, dU, 2 * 36 * tiles * KP * CP);
      engine.run('f32_winograd_filter_bwd', new Params().ptr(dU).ptr(a.dw).i32(g.cin).i32(g.cout), g.cin, 36 * 40 * KP * CP);
    });
    return;
  }
  const p = geometryParams(new Params().ptr(a.x).i32(0).i32(0).ptr(a.dy), g, false);
  engine.reduce('f32_conv2d_bwd_filter', p, g.batch, a.dw, g.flops);
}
