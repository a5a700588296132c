// TS wrappers of the per-example norm, sign, SLIDE-direction (assembly/norms.ts) and random-start
// (assembly/random.ts) kernels on arena buffers. Shapes: x, g, out (batch, dim) row-major f32;
// norms out (batch, 3) = (‖x‖₁, ‖x‖₂, ‖x‖∞). Threading: the kernels split the examples.
import type { Engine } from '../wasm/engine.ts';
import { Params } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { checkBuf, checkFinite, checkInt, checkOneOf } from './check.ts';
import { checkEpsValues } from './proj.ts';

export interface RowsArgs {
  batch: number;
  dim: number;
  x: F32Buf;
  out: F32Buf;
}

/** Per-example (L1, L2, L∞) norms into out (batch × 3). */
export function norms(engine: Engine, args: RowsArgs): void {
  const fn = 'norms';
  const batch = checkInt(fn, 'batch', args.batch), dim = checkInt(fn, 'dim', args.dim);
  checkBuf(fn, 'x', args.x, batch * dim);
  checkBuf(fn, 'out', args.out, batch * 3);
  engine.run('f32_norms', new Params().i32(batch).i32(dim).ptr(args.x).ptr(args.out), batch, 4 * batch * dim);
}

/** out = sign(x) elementwise (sign(0) = sign(NaN) = 0); out may be x. */
export function sign(engine: Engine, args: RowsArgs): void {
  const fn = 'sign';
  const batch = checkInt(fn, 'batch', args.batch), dim = checkInt(fn, 'dim', args.dim);
  checkBuf(fn, 'x', args.x, batch * dim);
  checkBuf(fn, 'out', args.out, batch * dim);
  engine.run('f32_sign', new Params().i32(batch).i32(dim).ptr(args.x).ptr(args.out), batch, batch * dim);
}

export interface SlideArgs {
  batch: number;
  dim: number;
  /** Gradient (batch, dim). */
  g: F32Buf;
  /** Current point x0 + δ (batch, dim): coordinates whose step would leave [0, 1] are blocked. Null: no box. */
  x?: F32Buf | null;
  out: F32Buf;
  /** Percentile q in [0, 100] (the reference's `perc`, default 99). */
  q?: number;
  /** Percentile over unblocked coordinates only (default false: blocked ones count as |g| = 0, as the reference). */
  unblockedOnly?: boolean;
}

/** SLIDE direction e = sign(g)·1[|g| ≥ P_q] / count per example (‖e‖₁ = 1, or e = 0 for g = 0). */
export function slideDirection(engine: Engine, args: SlideArgs): void {
  const fn = 'slideDirection';
  const batch = checkInt(fn, 'batch', args.batch), dim = checkInt(fn, 'dim', args.dim);
  const q = checkFinite(fn, 'q', args.q ?? 99);
  if (q < 0 || q > 100) throw new RangeError(`${fn}: q must be in [0, 100], got ${q}`);
  checkBuf(fn, 'g', args.g, batch * dim);
  if (args.x) checkBuf(fn, 'x', args.x, batch * dim);
  checkBuf(fn, 'out', args.out, batch * dim);
  const p = new Params().i32(batch).i32(dim).ptr(args.g).ptr(args.x).ptr(args.out).f32(q).i32(args.unblockedOnly ? 1 : 0);
  engine.run('f32_slide_dir', p, batch, 20 * batch * dim);
}

export type RandomStartKind = 'linf' | 'l2' | 'l1';

export interface RandomStartArgs {
  kind: RandomStartKind;
  batch: number;
  dim: number;
  out: F32Buf;
  /** Per-example budgets (batch floats, finite, ≥ 0). */
  eps: F32Buf;
  /** Integer seed in [0, 2^53). */
  seed: number;
  /** Index of row 0 in the whole batch (default 0): draws are keyed by (seed, offset + row, coordinate). */
  offset?: number;
}

/**
 * Seeded random starts: 'linf' U(−ε, ε)^dim; 'l2' uniform on the ε-sphere; 'l1' Laplace rescaled
 * to ‖δ‖₁ = ε. Counter-based: results depend only on (seed, offset + row, coordinate).
 */
export function randomStart(engine: Engine, args: RandomStartArgs): void {
  const fn = 'randomStart';
  const kind = checkOneOf(fn, 'kind', args.kind, ['linf', 'l2', 'l1'] as const);
  const batch = checkInt(fn, 'batch', args.batch), dim = checkInt(fn, 'dim', args.dim);
  const seed = checkInt(fn, 'seed', args.seed);
  if (seed > Number.MAX_SAFE_INTEGER) throw new RangeError(`${fn}: seed must be below 2^53, got ${seed}`);
  const offset = checkInt(fn, 'offset', args.offset ?? 0);
  if (offset + batch > 2 ** 31) throw new RangeError(`${fn}: offset + batch must be ≤ 2^31, got ${offset + batch}`);
  checkBuf(fn, 'out', args.out, batch * dim);
  checkBuf(fn, 'eps', args.eps, batch);
  checkEpsValues(fn, engine.view(args.eps).subarray(0, batch));
  const lo = seed % 2 ** 32, hi = Math.floor(seed / 2 ** 32);
  const p = new Params().i32(batch).i32(dim).ptr(args.out).ptr(args.eps).i32(lo).i32(hi).i32(offset);
  engine.run(`f32_rand_${kind}`, p, batch, 10 * batch * dim);
}
