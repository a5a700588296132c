// What the decision-based attacks (pointwise.ts, boundary.ts) share: the model seen only through
// its predicted labels, a query oracle that batches candidate images and counts queries, input
// checks, per-example keyed random numbers, the two noise starting points (salt-and-pepper,
// blended uniform noise) with which foolbox's decision-based attacks begin, and the nearest
// other-class examples of the call (the boundary attack's default starts).
//
// Shapes: images are NHWC f32 (n, h, w, c) flattened to n rows of D = h·w·c floats in [0, 1];
// labels (n) int32; the model maps (B, h, w, c) → logits (B, K). A candidate is adversarial when
// the model's predicted label (first maximum of the logits, as every accuracy in multirobust)
// differs from the true label (untargeted).
// Cost: the model forward is the only real cost; the oracle forms one array of all the round's
// candidates and forwards it in batches of `batch` (default 100) inside arena scopes under noGrad,
// so nothing leaks and no tape is recorded.
// Determinism: every random draw of example i comes from its own Rng (xoshiro128**, src/nn/init.ts)
// seeded by a hash of (seed, ids[i], stream), never Math.random: the same seed and id give the
// same draws whatever batch the example lands in, and the same seed, ids and thread count give
// bit-identical results.
import { noGrad } from '../autograd.ts';
import { Rng } from '../nn/init.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';

import { argmaxRows, type Classifier } from './core.ts';

export type { Classifier } from './core.ts';

export type ImageShape = readonly [number, number, number, number];

/** Options common to the decision-based attacks. */
export interface DecisionAttackOptions {
  seed: number;
  /** Global example ids for keyed randomness: same id + seed ⇒ same draws whatever the batch (default 0 … n−1). */
  ids?: Int32Array;
  /** Per-example query budget (model evaluations of that example's candidates, start included). */
  maxQueries?: number;
  /** Model forward batch size (default 100). */
  batch?: number;
}

export interface DecisionAttackResult {
  /** (n·h·w·c) adversarial images; rows that are not adversarial are x0's. */
  adv: Float32Array;
  /** Per example: adv is misclassified. */
  success: Uint8Array;
  /** Images forwarded through the model in all (the clean prediction included). */
  queries: number;
}

function checkImageShape(fn: string, shape: ImageShape): number {
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new RangeError(`${fn}: shape must be [n, h, w, c] of positive integers, got [${shape}]`);
  }
  return shape[1] * shape[2] * shape[3];
}

/** Predicted labels of NHWC images (n·h·w·c floats), in batches of `batch`, under noGrad inside arena scopes (no leaks). */
export function predictLabels(engine: Engine, model: Classifier, images: Float32Array, shape: ImageShape, batch = 100): Int32Array {
  return predict(engine, model, images, shape, batch).labels;
}

/** predictLabels, plus the number of classes K of the model's logits. */
function predict(engine: Engine, model: Classifier, images: Float32Array, shape: ImageShape, batch: number): { labels: Int32Array; classes: number } {
  const D = checkImageShape('predictLabels', shape);
  const n = shape[0];
  if (images.length !== n * D) throw new RangeError(`predictLabels: images has ${images.length} values, shape [${shape}] needs ${n * D}`);
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`predictLabels: batch must be a positive integer, got ${batch}`);
  const labels = new Int32Array(n);
  let classes = 0;
  for (let s = 0; s < n; s += batch) {
    const b = Math.min(batch, n - s);
    engine.arena.scope(() => noGrad(() => {
      const x = Tensor.from(engine, images.subarray(s * D, (s + b) * D), [b, shape[1], shape[2], shape[3]]);
      const logits = model.call(x);
      if (logits.rank !== 2 || logits.shape[0] !== b) throw new RangeError(`predictLabels: the model returned ${logits}, expected logits (${b}, K)`);
      classes = logits.shape[1];
      labels.set(argmaxRows(logits.view(), b), s);
    }));
  }
  return { labels, classes };
}

/** The resolved options and sizes of one attack call, after the input checks. */
export interface Problem {
  n: number;
  D: number;
  shape: ImageShape;
  ids: Int32Array;
  seed: number;
  batch: number;
  maxQueries: number;
}

/** Checks x0, y, shape and the common options; throws a message naming what is wrong. */
export function checkProblem(fn: string, x0: Float32Array, y: Int32Array, shape: ImageShape, opts: DecisionAttackOptions, defaultMaxQueries: number): Problem {
  const D = checkImageShape(fn, shape);
  const n = shape[0];
  if (!(x0 instanceof Float32Array)) throw new TypeError(`${fn}: x0 must be a Float32Array`);
  if (x0.length !== n * D) throw new RangeError(`${fn}: x0 has ${x0.length} values, shape [${shape}] needs ${n * D}`);
  for (let i = 0; i < x0.length; i++) {
    const v = x0[i];
    if (Number.isNaN(v)) throw new RangeError(`${fn}: x0 has NaN at index ${i} (example ${Math.floor(i / D)})`);
    if (!(v >= 0 && v <= 1)) throw new RangeError(`${fn}: x0 must be in [0, 1], got ${v} at index ${i} (example ${Math.floor(i / D)})`);
  }
  if (!y || y.length !== n) throw new RangeError(`${fn}: y has ${y?.length} labels, shape [${shape}] has ${n} examples`);
  for (let i = 0; i < n; i++) if (!Number.isInteger(y[i]) || y[i] < 0) throw new RangeError(`${fn}: y[${i}] must be a non-negative integer label, got ${y[i]}`);
  if (!opts || !Number.isInteger(opts.seed)) throw new RangeError(`${fn}: seed must be an integer, got ${opts?.seed}`);
  let ids = opts.ids;
  if (ids === undefined) ids = Int32Array.from({ length: n }, (_, i) => i);
  else if (ids.length !== n) throw new RangeError(`${fn}: ids has ${ids.length} entries, shape [${shape}] has ${n} examples`);
  const batch = opts.batch ?? 100;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`${fn}: batch must be a positive integer, got ${batch}`);
  const maxQueries = opts.maxQueries ?? defaultMaxQueries;
  if (!Number.isInteger(maxQueries) || maxQueries < 1) throw new RangeError(`${fn}: maxQueries must be a positive integer, got ${maxQueries}`);
  return { n, D, shape, ids, seed: opts.seed, batch, maxQueries };
}

/** A 32-bit hash of the parts (murmur3's finaliser over a running mix): keys per-example Rngs. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h | 0;
}

/** The Rng of one example: a function of (seed, id, stream) only. */
export function exampleRng(seed: number, id: number, stream: number): Rng {
  return new Rng(mixSeed(seed, id, stream));
}

/** Fisher–Yates shuffle in place. */
export function shuffle(a: Int32Array, rng: Rng): Int32Array {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

/**
 * The model seen through its decisions. Each round the attack adds candidate images (one or more
 * per example) with `add`, then `run` forwards them all (in batches) and tells, per candidate,
 * whether it is adversarial for its example. Queries are counted per example and in total.
 */
export class Oracle {
  readonly perExample: Int32Array;
  total = 0;
  /** Predicted labels of the last round's candidates. */
  labels: Int32Array = new Int32Array(0);
  private buf: Float32Array;
  private owners: Int32Array;
  private count = 0;
  private checked = false;

  constructor(readonly engine: Engine, readonly model: Classifier, readonly p: Problem, readonly y: Int32Array) {
    this.perExample = new Int32Array(p.n);
    this.buf = new Float32Array(Math.max(1, p.batch) * p.D);
    this.owners = new Int32Array(Math.max(1, p.batch));
  }

  /** Queries left for example i. */
  left(i: number): number {
    return this.p.maxQueries - this.perExample[i];
  }

  /** Reserves a candidate row for example i and returns it (a view, valid until the next add/run). */
  add(i: number): Float32Array {
    const D = this.p.D;
    if (this.count === this.owners.length) {
      const cap = this.owners.length * 2;
      const b = new Float32Array(cap * D);
      b.set(this.buf);
      this.buf = b;
      const o = new Int32Array(cap);
      o.set(this.owners);
      this.owners = o;
    }
    this.owners[this.count] = i;
    return this.buf.subarray(this.count++ * D, this.count * D);
  }

  /** Candidate k of the last round (a view, valid until the next add). */
  row(k: number): Float32Array {
    return this.buf.subarray(k * this.p.D, (k + 1) * this.p.D);
  }

  /** Forwards the round's candidates; returns per candidate (in add order) 1 if adversarial. */
  run(): Uint8Array {
    const m = this.count, D = this.p.D, [, h, w, c] = this.p.shape;
    this.count = 0;
    if (m === 0) return new Uint8Array(0);
    const { labels, classes } = predict(this.engine, this.model, this.buf.subarray(0, m * D), [m, h, w, c], this.p.batch);
    if (!this.checked) {
      this.checked = true;
      for (let i = 0; i < this.y.length; i++) {
        if (this.y[i] >= classes) throw new RangeError(`y[${i}] = ${this.y[i]} is not a class of the model, whose logits have ${classes} classes`);
      }
    }
    this.labels = labels;
    const adv = new Uint8Array(m);
    for (let k = 0; k < m; k++) {
      const i = this.owners[k];
      adv[k] = labels[k] !== this.y[i] ? 1 : 0;
      this.perExample[i]++;
    }
    this.total += m;
    return adv;
  }
}

export type NoiseKind = 'saltpepper' | 'uniform';

/**
 * Adversarial starting points by noise of increasing strength (foolbox's SaltAndPepperNoiseAttack
 * and BlendedUniformNoiseAttack), for the examples with `need[i]`:
 *  - 'saltpepper': at level p = j/levels (j = 1 … levels) each pixel position (all channels alike)
 *    becomes 0 with probability p/2 and 1 with probability p/2; fresh draws at every level.
 *  - 'uniform': x = (1 − p)·x0 + p·u with one uniform u ∈ [0, 1]^D per try; at p = 1 (pure noise)
 *    a new u is drawn each round, up to `levels` more tries.
 * One query per example and level; the first adversarial image is kept. Returns the start rows
 * (x0's where none was found) and per example whether one was found.
 */
export function noiseStart(oracle: Oracle, x0: Float32Array, need: Uint8Array, kind: NoiseKind, levels: number, rngs: Rng[]): { x: Float32Array; found: Uint8Array } {
  const { n, D, shape } = oracle.p;
  const chans = shape[3], positions = D / chans;
  const x = x0.slice();
  const found = new Uint8Array(n);
  const u = new Float32Array(kind === 'uniform' ? n * D : 0);
  if (kind === 'uniform') for (let i = 0; i < n; i++) if (need[i]) for (let d = 0; d < D; d++) u[i * D + d] = rngs[i].next();
  const rounds = kind === 'uniform' ? 2 * levels : levels;
  for (let j = 1; j <= rounds; j++) {
    const p = Math.min(1, j / levels);
    const active: number[] = [];
    for (let i = 0; i < n; i++) {
      if (!need[i] || found[i] || oracle.left(i) <= 0) continue;
      const x0i = x0.subarray(i * D, (i + 1) * D);
      const row = oracle.add(i);
      if (kind === 'saltpepper') {
        row.set(x0i);
        for (let q = 0; q < positions; q++) {
          const r = rngs[i].next();
          const v = r < p / 2 ? 0 : r >= 1 - p / 2 ? 1 : -1;
          if (v >= 0) for (let ch = 0; ch < chans; ch++) row[q * chans + ch] = v;
        }
      } else {
        const ui = u.subarray(i * D, (i + 1) * D);
        if (j > levels) for (let d = 0; d < D; d++) ui[d] = rngs[i].next();
        for (let d = 0; d < D; d++) row[d] = (1 - p) * x0i[d] + p * ui[d];
      }
      active.push(i);
    }
    if (active.length === 0) break;
    const adv = oracle.run();
    for (let k = 0; k < active.length; k++) {
      if (!adv[k]) continue;
      found[active[k]] = 1;
      x.set(oracle.row(k), active[k] * D);
    }
  }
  return { x, found };
}

/** ‖a − b‖₂ over one row. */
export function l2dist(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let d = 0; d < a.length; d++) {
    const t = a[d] - b[d];
    s += t * t;
  }
  return Math.sqrt(s);
}

/** Other examples searched per example by nearestOthers (the n² distances stay ≤ ~1 s for n ≤ 1,024 on MNIST). */
export const NEAREST_POOL = 1024;

/**
 * For each example i with need[i], the indices of the (up to) k other examples nearest in L2 whose
 * clean prediction is not y[i] (each is adversarial for i as it is), nearest first; −1 pads.
 * Searched among the NEAREST_POOL − 1 examples that follow i in the call, cyclically (all of
 * them when n ≤ NEAREST_POOL).
 */
export function nearestOthers(x0: Float32Array, y: Int32Array, predicted: Int32Array, need: Uint8Array, D: number, k: number): Int32Array {
  const n = y.length;
  const out = new Int32Array(n * k).fill(-1);
  const bestD = new Float64Array(k);
  const pool = Math.min(n, NEAREST_POOL);
  for (let i = 0; i < n; i++) {
    if (!need[i]) continue;
    bestD.fill(Infinity);
    const xi = x0.subarray(i * D, (i + 1) * D);
    for (let s = 1; s < pool; s++) {
      const j = (i + s) % n;
      if (predicted[j] === y[i]) continue;
      const dd = l2dist(xi, x0.subarray(j * D, (j + 1) * D));
      if (!(dd < bestD[k - 1])) continue;
      let q = k - 1;
      while (q > 0 && dd < bestD[q - 1]) {
        bestD[q] = bestD[q - 1];
        out[i * k + q] = out[i * k + q - 1];
        q--;
      }
      bestD[q] = dd;
      out[i * k + q] = j;
    }
  }
  return out;
}
