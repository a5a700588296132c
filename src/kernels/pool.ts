// TS wrappers of the 2×2 stride-2 max-pool kernels (assembly/pool.ts).
// Layout NHWC: x, dx: (batch, h, w, c); y, dy: (batch, floor(h/2), floor(w/2), c).
// NOTE: floor (PyTorch MaxPool2d(2), TF VALID): an odd last row/column is dropped and gets dx = 0.
// NOTE: ties send the gradient to the first max in window order (0,0), (0,1), (1,0), (1,1).
// No in-place use. Threading: output rows (batch·floor(h/2)); no reduction.
import type { Engine } from '../wasm/engine.ts';
import { Params } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { checkBuf, checkDisjoint, checkInt } from './check.ts';

export interface MaxPool2x2Args {
  x: F32Buf;
  y: F32Buf;
  batch: number;
  h: number;
  w: number;
  c: number;
  /** Fused ReLU after the pool: y = max(window max, 0). Equal to ReLU then pool. */
  relu?: boolean;
}

export interface MaxPool2x2BackwardArgs {
  x: F32Buf;
  dy: F32Buf;
  dx: F32Buf;
  batch: number;
  h: number;
  w: number;
  c: number;
  /** The forward had a fused ReLU: dy passes only where the window max is > 0. */
  relu?: boolean;
}

/** Output shape [batch, floor(h/2), floor(w/2), c] of maxPool2x2. */
export function maxPool2x2Shape(batch: number, h: number, w: number, c: number): [number, number, number, number] {
  return [batch, Math.floor(h / 2), Math.floor(w / 2), c];
}

function checkShape(fn: string, args: { batch: number; h: number; w: number; c: number }) {
  const batch = checkInt(fn, 'batch', args.batch), h = checkInt(fn, 'h', args.h);
  const w = checkInt(fn, 'w', args.w), c = checkInt(fn, 'c', args.c);
  const oh = h >> 1, ow = w >> 1;
  return { batch, h, w, c, oh, ow, inSize: batch * h * w * c, outSize: batch * oh * ow * c };
}

/** y = max over each 2×2 window of x (then ReLU with `relu`). */
export function maxPool2x2(engine: Engine, args: MaxPool2x2Args): void {
  const fn = 'maxPool2x2';
  const s = checkShape(fn, args);
  checkBuf(fn, 'x', args.x, s.inSize);
  checkBuf(fn, 'y', args.y, s.outSize);
  checkDisjoint(fn, 'x', args.x, s.inSize, 'y', args.y, s.outSize);
  const p = new Params().i32(s.batch).i32(s.h).i32(s.w).i32(s.c).ptr(args.x).ptr(args.y).i32(args.relu ? 2 : 0);
  engine.run('f32_maxpool2d_fwd', p, s.batch * s.oh, s.batch * s.h * s.w * s.c);
}

/** dx = dy routed to the first max of each window (with `relu`: only where that max is > 0); every other entry of dx is set to 0. */
export function maxPool2x2Backward(engine: Engine, args: MaxPool2x2BackwardArgs): void {
  const fn = 'maxPool2x2Backward';
  const s = checkShape(fn, args);
  checkBuf(fn, 'x', args.x, s.inSize);
  checkBuf(fn, 'dy', args.dy, s.outSize);
  checkBuf(fn, 'dx', args.dx, s.inSize);
  checkDisjoint(fn, 'x', args.x, s.inSize, 'dx', args.dx, s.inSize);
  checkDisjoint(fn, 'dy', args.dy, s.outSize, 'dx', args.dx, s.inSize);
  if (s.oh === 0) {
    // No output rows (h < 2): no kernel part owns dx, which is all zeros.
    engine.view({ ptr: args.dx.ptr, length: s.inSize }).fill(0);
    return;
  }
  const p = new Params().i32(s.batch).i32(s.h).i32(s.w).i32(s.c).ptr(args.x).ptr(args.dy).ptr(args.dx).i32(args.relu ? 2 : 0);
  engine.run('f32_maxpool2d_bwd', p, s.batch * s.oh, s.batch * s.h * s.w * s.c);
}
