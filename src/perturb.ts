// Public functional API of the perturbation kernels on plain Float32Arrays (returns new arrays).
//
// Async by design: every function awaits the process-wide default engine (getEngine(), loaded once
// on first use), so `await projectL1(delta, 10, batch)` works without any set-up call. Inputs are
// copied into the engine's memory, the kernel runs, the result is copied out; the call is
// synchronous once the engine is loaded. For hot loops, use the arena-buffer wrappers
// (multirobust/kernels: projL*, spatialForward, …) on an Engine directly (no copies).
// `rotateTranslate` is the spatial kernel's; `ops.spatialTransform` is the differentiable tensor op.
//
// Layouts: `batch` rows of `dim = length / batch` values, row-major; images NHWC [batch, h, w, c].
// eps: one number for all examples or one per example. x0: clean inputs in [0, 1] (the box).
// Spatial params: Float32Array of (θ radians, tx, ty pixels) per example; conventions in
// assembly/bilinear.ts (rotation about ((w−1)/2, (h−1)/2), content moves by +(tx, ty), zero fill).
import { projL1, projL1Box, projL2, projLinf, type ProjArgs } from './kernels/proj.ts';
import { spatialForward } from './kernels/spatial.ts';
import type { Engine } from './wasm/engine.ts';
import { getEngine } from './wasm/load.ts';

export type Eps = number | ArrayLike<number>;

function rows(fn: string, name: string, a: ArrayLike<number>, batch: number): number {
  if (!(a instanceof Float32Array)) throw new TypeError(`${fn}: ${name} must be a Float32Array`);
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`${fn}: batch must be an integer ≥ 1, got ${batch}`);
  if (a.length === 0) throw new RangeError(`${fn}: ${name} is empty (each of the ${batch} rows needs at least one value)`);
  if (a.length % batch !== 0) throw new RangeError(`${fn}: ${name} has length ${a.length}, not divisible by batch ${batch}`);
  return a.length / batch;
}

function checkFiniteArray(fn: string, name: string, a: ArrayLike<number>): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new RangeError(`${fn}: ${name} must be finite, got ${name}[${i}] = ${a[i]}`);
  }
}

function checkX0(fn: string, x0: Float32Array, n: number): void {
  if (!(x0 instanceof Float32Array)) throw new TypeError(`${fn}: x0 must be a Float32Array`);
  if (x0.length !== n) throw new RangeError(`${fn}: x0 has length ${x0.length}, expected ${n} (same as delta)`);
  for (let i = 0; i < n; i++) {
    if (!(x0[i] >= 0 && x0[i] <= 1)) throw new RangeError(`${fn}: x0 must lie in [0, 1], got x0[${i}] = ${x0[i]}`);
  }
}

function epsArray(fn: string, eps: Eps, batch: number): Float32Array {
  if (typeof eps !== 'number' && (eps === null || typeof eps !== 'object' || typeof eps.length !== 'number')) {
    throw new TypeError(`${fn}: eps must be a number or an array of ${batch} numbers (one per example), got ${eps === null ? 'null' : typeof eps}`);
  }
  const out = typeof eps === 'number' ? new Float32Array(batch).fill(eps) : Float32Array.from(eps);
  if (typeof eps !== 'number' && out.length !== batch) {
    throw new RangeError(`${fn}: eps has ${out.length} values; give one number for all examples or ${batch} values (batch = ${batch}), one per example`);
  }
  for (let i = 0; i < batch; i++) {
    const e = typeof eps === 'number' ? eps : eps[i];
    if (!Number.isFinite(e) || e < 0) throw new RangeError(`${fn}: eps must be finite and ≥ 0, got ${typeof eps === 'number' ? e : `eps[${i}] = ${e}`}`);
  }
  return out;
}

type ProjKernel = (engine: Engine, args: ProjArgs) => void;

// Async: every argument error rejects the returned promise, none is thrown synchronously.
async function project(fn: string, kernel: ProjKernel, delta: Float32Array, x0: Float32Array | null, eps: Eps, batch: number, needsX0 = false): Promise<Float32Array> {
  if (needsX0 && !x0) throw new TypeError(`${fn}: x0 (the clean inputs) is required, got ${x0}`);
  const dim = rows(fn, 'delta', delta, batch);
  checkFiniteArray(fn, 'delta', delta);
  if (x0) checkX0(fn, x0, delta.length);
  const e = epsArray(fn, eps, batch);
  const engine = await getEngine();
  return engine.arena.scope(() => {
    const buf = engine.fromF32(delta);
    kernel(engine, { batch, dim, delta: buf, eps: engine.fromF32(e), x0: x0 ? engine.fromF32(x0) : null });
    return engine.toF32(buf);
  });
}

/** clamp(δ, −ε, ε) with x0 + δ kept in [0, 1]. */
export function projectLinf(delta: Float32Array, x0: Float32Array | null, eps: Eps, batch: number): Promise<Float32Array> {
  return project('projectLinf', projLinf, delta, x0, eps, batch);
}

/** δ·min(1, ε/‖δ‖₂), then x0 + δ clipped to [0, 1]. */
export function projectL2(delta: Float32Array, x0: Float32Array | null, eps: Eps, batch: number): Promise<Float32Array> {
  return project('projectL2', projL2, delta, x0, eps, batch);
}

/**
 * Exact Euclidean projection onto the L1 ball. `options.clipTo`: the reference code's SLIDE
 * projection "L1 ball, then box clip" around those clean inputs (not the exact L1 ∩ box).
 */
export function projectL1(delta: Float32Array, eps: Eps, batch: number, options: { clipTo?: Float32Array } = {}): Promise<Float32Array> {
  return project('projectL1', projL1, delta, options.clipTo ?? null, eps, batch);
}

/** Exact Euclidean projection onto {‖z‖₁ ≤ ε, 0 ≤ x0 + z ≤ 1}. */
export function projectL1Box(delta: Float32Array, x0: Float32Array, eps: Eps, batch: number): Promise<Float32Array> {
  return project('projectL1Box', projL1Box, delta, x0, eps, batch, true);
}

/** Bilinear rotation by θ about the image centre and translation by (tx, ty) pixels, zero fill. */
export async function rotateTranslate(images: Float32Array, shape: readonly [number, number, number, number], params: Float32Array): Promise<Float32Array> {
  const fn = 'rotateTranslate';
  if (!(images instanceof Float32Array)) throw new TypeError(`${fn}: images must be a Float32Array`);
  if (!Array.isArray(shape) || shape.length !== 4) throw new TypeError(`${fn}: shape must be [batch, h, w, c]`);
  const [batch, h, w, c] = shape;
  for (const [name, v] of [['batch', batch], ['h', h], ['w', w], ['c', c]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${fn}: shape ${name} must be an integer ≥ 1, got ${v}`);
  }
  if (images.length !== batch * h * w * c) throw new RangeError(`${fn}: images has length ${images.length}, expected batch·h·w·c = ${batch * h * w * c}`);
  if (!(params instanceof Float32Array) || params.length !== 3 * batch) {
    throw new RangeError(`${fn}: params must be a Float32Array of 3·batch = ${3 * batch} values (θ, tx, ty per example)`);
  }
  checkFiniteArray(fn, 'images', images);
  checkFiniteArray(fn, 'params', params);
  const engine = await getEngine();
  return engine.arena.scope(() => {
    const x = engine.fromF32(images), y = engine.arena.allocF32(images.length);
    spatialForward(engine, { batch, h, w, c, params: engine.fromF32(params), x, y });
    return engine.toF32(y);
  });
}
