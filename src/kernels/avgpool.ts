// TS wrappers of the average- and general max-pooling kernels (assembly/avgpool.ts).
// Layout NHWC: x, dx: (batch, h, w, c); y, dy: (batch, oh, ow, c) with
//   oh = floor((h + 2·ph − kh) / sh) + 1, ow likewise. Symmetric zero padding ph, pw < kh, kw.
// includePad: every window divides by kh·kw (ONNX count_include_pad = 1); otherwise by the number
// of its taps inside the image (ONNX's default). Global average pooling: kh = h, kw = w.
// No in-place use. Threading: forward output rows (batch·oh), backward input rows (batch·h).
import type { Engine } from '../wasm/engine.ts';
import { Params } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { checkBuf, checkDisjoint, checkInt } from './check.ts';

export interface AvgPoolGeometry {
  batch: number;
  h: number;
  w: number;
  c: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  includePad: boolean;
}

export interface AvgPoolShape extends AvgPoolGeometry {
  oh: number;
  ow: number;
}

/** The checked geometry with its output size; a RangeError names any bad field. */
export function avgPoolShape(fn: string, g: AvgPoolGeometry): AvgPoolShape {
  const batch = checkInt(fn, 'batch', g.batch), h = checkInt(fn, 'h', g.h, 1), w = checkInt(fn, 'w', g.w, 1), c = checkInt(fn, 'c', g.c, 1);
  const kh = checkInt(fn, 'kh', g.kh, 1), kw = checkInt(fn, 'kw', g.kw, 1), sh = checkInt(fn, 'sh', g.sh, 1), sw = checkInt(fn, 'sw', g.sw, 1);
  const ph = checkInt(fn, 'ph', g.ph), pw = checkInt(fn, 'pw', g.pw);
  if (ph >= kh || pw >= kw) throw new RangeError(`${fn}: padding (${ph}, ${pw}) must be smaller than the window (${kh}, ${kw})`);
  if (h + 2 * ph < kh || w + 2 * pw < kw) throw new RangeError(`${fn}: the window (${kh}, ${kw}) is larger than the padded input (${h + 2 * ph}, ${w + 2 * pw})`);
  return { batch, h, w, c, kh, kw, sh, sw, ph, pw, includePad: !!g.includePad, oh: Math.floor((h + 2 * ph - kh) / sh) + 1, ow: Math.floor((w + 2 * pw - kw) / sw) + 1 };
}

/** The parameter block (assembly/avgpool.ts): geometry, the buffers in kernel order, the flags. */
function params(s: AvgPoolShape, ...bufs: F32Buf[]): Params {
  const p = new Params().i32(s.batch).i32(s.h).i32(s.w).i32(s.c).i32(s.kh).i32(s.kw).i32(s.sh).i32(s.sw).i32(s.ph).i32(s.pw).i32(s.oh).i32(s.ow);
  for (const b of bufs) p.ptr(b);
  return p.i32(s.includePad ? 2 : 0);
}

/** y = the mean of each window of x (taps in the image; see includePad). */
export function avgPool2d(engine: Engine, args: AvgPoolGeometry & { x: F32Buf; y: F32Buf }): void {
  const fn = 'avgPool2d';
  const s = avgPoolShape(fn, args);
  const inSize = s.batch * s.h * s.w * s.c, outSize = s.batch * s.oh * s.ow * s.c;
  checkBuf(fn, 'x', args.x, inSize);
  checkBuf(fn, 'y', args.y, outSize);
  checkDisjoint(fn, 'x', args.x, inSize, 'y', args.y, outSize);
  engine.run('f32_avgpool2d_fwd', params(s, args.x, args.y), s.batch * s.oh, outSize * s.kh * s.kw);
}

/** dx = Σ over the windows containing each pixel of dy / the window's divisor (every dx entry written). */
export function avgPool2dBackward(engine: Engine, args: AvgPoolGeometry & { dy: F32Buf; dx: F32Buf }): void {
  const fn = 'avgPool2dBackward';
  const s = avgPoolShape(fn, args);
  const inSize = s.batch * s.h * s.w * s.c, outSize = s.batch * s.oh * s.ow * s.c;
  checkBuf(fn, 'dy', args.dy, outSize);
  checkBuf(fn, 'dx', args.dx, inSize);
  checkDisjoint(fn, 'dy', args.dy, outSize, 'dx', args.dx, inSize);
  engine.run('f32_avgpool2d_bwd', params(s, args.dy, args.dx), s.batch * s.h, outSize * s.kh * s.kw);
}

/**
 * y = the max of each window's taps inside the image (any window, strides, symmetric padding that
 * is never selected); ties go to the first max in row-major window order. Same geometry as avgPool2d
 * (includePad is ignored).
 */
export function maxPool(engine: Engine, args: AvgPoolGeometry & { x: F32Buf; y: F32Buf }): void {
  const fn = 'maxPool';
  const s = avgPoolShape(fn, args);
  const inSize = s.batch * s.h * s.w * s.c, outSize = s.batch * s.oh * s.ow * s.c;
  checkBuf(fn, 'x', args.x, inSize);
  checkBuf(fn, 'y', args.y, outSize);
  checkDisjoint(fn, 'x', args.x, inSize, 'y', args.y, outSize);
  engine.run('f32_maxpool_fwd', params(s, args.x, args.y), s.batch * s.oh, outSize * s.kh * s.kw);
}

/** dx = dy routed to each window's first max (every dx entry written: 0 where no window's max is). */
export function maxPoolBackward(engine: Engine, args: AvgPoolGeometry & { x: F32Buf; dy: F32Buf; dx: F32Buf }): void {
  const fn = 'maxPoolBackward';
  const s = avgPoolShape(fn, args);
  const inSize = s.batch * s.h * s.w * s.c, outSize = s.batch * s.oh * s.ow * s.c;
  checkBuf(fn, 'x', args.x, inSize);
  checkBuf(fn, 'dy', args.dy, outSize);
  checkBuf(fn, 'dx', args.dx, inSize);
  checkDisjoint(fn, 'x', args.x, inSize, 'dx', args.dx, inSize);
  checkDisjoint(fn, 'dy', args.dy, outSize, 'dx', args.dx, inSize);
  engine.run('f32_maxpool_bwd', params({ ...s, includePad: false }, args.x, args.dy, args.dx), s.batch * s.h, outSize * s.kh * s.kw * s.kh * s.kw);
}
