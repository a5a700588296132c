// TS wrappers of the projection kernels (assembly/proj.ts) on arena buffers.
// Shapes: delta, out, x0 (batch, dim) row-major f32; eps (batch) per-example budgets ≥ 0.
// `out` defaults to `delta` (in place). x0 = clean inputs in [0, 1]; with x0 the result also keeps
// x0 + out inside [0, 1]. Threading: the kernels split the examples; no reduction.
// Contents are not scanned here (O(n)); the public API (src/perturb.ts) rejects NaN and bad x0.
import type { Engine } from '../wasm/engine.ts';
import { Params } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { checkBuf, checkInt } from './check.ts';

export interface ProjArgs {
  batch: number;
  dim: number;
  delta: F32Buf;
  /** Per-example budgets: `batch` floats, each finite and ≥ 0. */
  eps: F32Buf;
  /** Output (default: delta, in place). */
  out?: F32Buf;
  /** Clean inputs for the box 0 ≤ x0 + out ≤ 1 (null/absent: no box; required by projL1Box). */
  x0?: F32Buf | null;
}

/** Checks the arguments shared by every projection and returns the parameter block. */
function projParams(fn: string, engine: Engine, args: ProjArgs, needX0: boolean): Params {
  const batch = checkInt(fn, 'batch', args.batch), dim = checkInt(fn, 'dim', args.dim);
  const n = batch * dim;
  checkBuf(fn, 'delta', args.delta, n);
  const out = args.out ?? args.delta;
  checkBuf(fn, 'out', out, n);
  if (needX0 && !args.x0) throw new TypeError(`${fn}: x0 is required (the box is part of the projection)`);
  if (args.x0) checkBuf(fn, 'x0', args.x0, n);
  checkBuf(fn, 'eps', args.eps, batch);
  checkEpsValues(fn, engine.view(args.eps).subarray(0, batch));
  return new Params().i32(batch).i32(dim).ptr(args.delta).ptr(out).ptr(args.x0).ptr(args.eps);
}

/** Throws unless every budget is finite and ≥ 0 (names the first bad example). */
export function checkEpsValues(fn: string, eps: ArrayLike<number>): void {
  for (let i = 0; i < eps.length; i++) {
    const e = eps[i];
    if (!Number.isFinite(e) || e < 0) throw new RangeError(`${fn}: eps must be finite and ≥ 0, got eps[${i}] = ${e}`);
  }
}

/** out = clamp(δ, −ε, ε), and x0 + out ∈ [0, 1] when x0 is given: one pass. */
export function projLinf(engine: Engine, args: ProjArgs): void {
  engine.run('f32_proj_linf', projParams('projLinf', engine, args, false), args.batch, 2 * args.batch * args.dim);
}

/** out = δ·min(1, ε/‖δ‖₂), then the box clip when x0 is given. */
export function projL2(engine: Engine, args: ProjArgs): void {
  engine.run('f32_proj_l2', projParams('projL2', engine, args, false), args.batch, 4 * args.batch * args.dim);
}

/**
 * Exact Euclidean projection onto the L1 ball. With x0 given it then clips to the box: the
 * reference code's "L1 projection, then box clip" (not the projection onto the intersection).
 */
export function projL1(engine: Engine, args: ProjArgs): void {
  engine.run('f32_proj_l1', projParams('projL1', engine, args, false), args.batch, 20 * args.batch * args.dim);
}

/** Exact Euclidean projection onto {‖z‖₁ ≤ ε, 0 ≤ x0 + z ≤ 1} (x0 required). */
export function projL1Box(engine: Engine, args: ProjArgs): void {
  engine.run('f32_proj_l1_box', projParams('projL1Box', engine, args, true), args.batch, 40 * args.batch * args.dim);
}
