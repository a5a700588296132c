// TS wrappers of the bias-add and ReLU kernels (assembly/activation.ts).
// Shapes: x, y, dy: (rows, cols) row-major f32; bias, db: (cols). ReLU kernels are elementwise over n.
// In place: biasAdd y == x, relu y == x, reluBackward dx == dy (or dx == y) are allowed; partial
// overlaps are rejected. Threading: rows (bias) or elements (ReLU); biasBackward is a reduction.
import type { Engine } from '../wasm/engine.ts';
import { Params } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { checkBuf, checkDisjoint, checkInt } from './check.ts';

export interface BiasAddArgs {
  x: F32Buf;
  bias: F32Buf;
  y: F32Buf;
  rows: number;
  cols: number;
  /** Apply ReLU after the bias (fused). */
  relu?: boolean;
}

/** y[r, c] = x[r, c] + bias[c] (then max(·, 0) when relu). */
export function biasAdd(engine: Engine, args: BiasAddArgs): void {
  const fn = 'biasAdd';
  const rows = checkInt(fn, 'rows', args.rows), cols = checkInt(fn, 'cols', args.cols);
  const n = rows * cols;
  checkBuf(fn, 'x', args.x, n);
  checkBuf(fn, 'bias', args.bias, cols);
  checkBuf(fn, 'y', args.y, n);
  checkDisjoint(fn, 'x', args.x, n, 'y', args.y, n, true);
  checkDisjoint(fn, 'bias', args.bias, cols, 'y', args.y, n);
  const p = new Params().i32(rows).i32(cols).ptr(args.x).ptr(args.bias).ptr(args.y).i32(args.relu ? 1 : 0);
  engine.run('f32_bias_add_fwd', p, rows, rows * cols);
}

export interface BiasBackwardArgs {
  dy: F32Buf;
  db: F32Buf;
  rows: number;
  cols: number;
}

/** db[c] = Σ_r dy[r, c] (overwrites db). */
export function biasBackward(engine: Engine, args: BiasBackwardArgs): void {
  const fn = 'biasBackward';
  const rows = checkInt(fn, 'rows', args.rows), cols = checkInt(fn, 'cols', args.cols);
  checkBuf(fn, 'dy', args.dy, rows * cols);
  checkBuf(fn, 'db', args.db, cols);
  checkDisjoint(fn, 'dy', args.dy, rows * cols, 'db', args.db, cols);
  const p = new Params().i32(rows).i32(cols).ptr(args.dy);
  engine.reduce('f32_bias_add_bwd', p, rows, { ptr: args.db.ptr, length: cols }, rows * cols);
}

export interface ReluArgs {
  x: F32Buf;
  y: F32Buf;
  n: number;
}

/** y = max(x, 0) elementwise (NaN stays NaN). */
export function relu(engine: Engine, args: ReluArgs): void {
  const fn = 'relu';
  const n = checkInt(fn, 'n', args.n);
  checkBuf(fn, 'x', args.x, n);
  checkBuf(fn, 'y', args.y, n);
  checkDisjoint(fn, 'x', args.x, n, 'y', args.y, n, true);
  engine.run('f32_relu_fwd', new Params().i32(n).ptr(args.x).ptr(args.y), n, n);
}

export interface ReluBackwardArgs {
  /** The forward OUTPUT y = relu(x). */
  y: F32Buf;
  dy: F32Buf;
  dx: F32Buf;
  n: number;
}

/** dx = dy where y > 0, else 0. NOTE: relu'(0) = 0. */
export function reluBackward(engine: Engine, args: ReluBackwardArgs): void {
  const fn = 'reluBackward';
  const n = checkInt(fn, 'n', args.n);
  checkBuf(fn, 'y', args.y, n);
  checkBuf(fn, 'dy', args.dy, n);
  checkBuf(fn, 'dx', args.dx, n);
  checkDisjoint(fn, 'dy', args.dy, n, 'dx', args.dx, n, true);
  checkDisjoint(fn, 'y', args.y, n, 'dx', args.dx, n, true);
  engine.run('f32_relu_bwd', new Params().i32(n).ptr(args.y).ptr(args.dy).ptr(args.dx), n, n);
}

export interface LeakyReluArgs {
  x: F32Buf;
  y: F32Buf;
  n: number;
  /** The slope for x ≤ 0, in [0, 1). */
  alpha: number;
}

function checkAlpha(fn: string, alpha: number): number {
  if (!(alpha >= 0 && alpha < 1)) throw new RangeError(`${fn}: alpha must be in [0, 1), got ${alpha}`);
  return alpha;
}

/** y = x > 0 ? x : α·x elementwise (in place allowed). */
export function leakyRelu(engine: Engine, args: LeakyReluArgs): void {
  const fn = 'leakyRelu';
  const n = checkInt(fn, 'n', args.n), alpha = checkAlpha(fn, args.alpha);
  checkBuf(fn, 'x', args.x, n);
  checkBuf(fn, 'y', args.y, n);
  checkDisjoint(fn, 'x', args.x, n, 'y', args.y, n, true);
  engine.run('f32_leaky_relu_fwd', new Params().i32(n).ptr(args.x).ptr(args.y).f32(alpha), n, n);
}

export interface LeakyReluBackwardArgs {
  /** The forward INPUT x. */
  x: F32Buf;
  dy: F32Buf;
  dx: F32Buf;
  n: number;
  alpha: number;
}

/** dx = x > 0 ? dy : α·dy (the slope at 0 is α; in place dx == dy allowed). */
export function leakyReluBackward(engine: Engine, args: LeakyReluBackwardArgs): void {
  const fn = 'leakyReluBackward';
  const n = checkInt(fn, 'n', args.n), alpha = checkAlpha(fn, args.alpha);
  checkBuf(fn, 'x', args.x, n);
  checkBuf(fn, 'dy', args.dy, n);
  checkBuf(fn, 'dx', args.dx, n);
  checkDisjoint(fn, 'dy', args.dy, n, 'dx', args.dx, n, true);
  checkDisjoint(fn, 'x', args.x, n, 'dx', args.dx, n);
  engine.run('f32_leaky_relu_bwd', new Params().i32(n).ptr(args.x).ptr(args.dy).ptr(args.dx).f32(alpha), n, n);
}
