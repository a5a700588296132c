// What every attack shares: the batch it works on, the loss and its input gradient, per-example
// worst-case tracking, seeds and keyed random starts.
//
// Shapes: x0, adversarial points (B, H, W, C) NHWC f32 in [0, 1], flattened to (B, D) rows where
// a kernel wants rows; y (B) int32 labels; logits (B, K). `ids` (B) are the examples' global
// indices (position in the evaluated set): random draws are keyed by (seed, id), so an example
// gets the same random start whatever batch it lands in.
// Memory: attacks keep their state (δ, the worst case so far) in the engine's arena; the step loop
// copies nothing but the B×K logits (and B-row bookkeeping) to JS.
import { grad, noGrad } from '../autograd.ts';
import { randomStart, type RandomStartKind } from '../kernels/norms.ts';
import { marginLoss, mul, neg, softmaxCrossEntropy, sum } from '../ops/index.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';

/** Anything with call(x) → logits (B, K): a Module such as mnistCnn. */
export interface Classifier {
  call(x: Tensor): Tensor;
}

export type LossName = 'margin' | 'ce';

/** The examples an attack runs on. */
export interface AttackBatch {
  engine: Engine;
  model: Classifier;
  /** Clean inputs (B, H, W, C) in [0, 1]. */
  x0: Tensor;
  y: Int32Array;
  /** Global example indices (B): key the random draws. */
  ids: Int32Array;
  /** Accuracy only: an example may stop being attacked once it is misclassified (default true). */
  earlyStop?: boolean;
  /**
   * Targeted attack (B classes; attacks with `targetable` only, see runAttack): the steps ascend the
   * targeted form of the attack's loss (margin z_t − z_y, or −CE to t; pgd.ts), success (`wrong`)
   * means "classified as targets[i]", and candidates rank by the cross-entropy to the target.
   */
  targets?: Int32Array;
}

/** The predicted class of each row of logits (B, K): the first maximum, as PyTorch's argmax. */
export function argmaxRows(logits: Float32Array, B: number): Int32Array {
  const K = logits.length / B, out = new Int32Array(B);
  for (let i = 0; i < B; i++) {
    let arg = 0, max = -Infinity;
    for (let k = 0; k < K; k++) if (logits[i * K + k] > max) { max = logits[i * K + k]; arg = k; }
    out[i] = arg;
  }
  return out;
}

/**
 * Per-example cross-entropy and correctness from logits (B, K), in float64: the attacker's score,
 * higher is better. With `targets` (B) it is the targeted one: wrong[i] = 1 when the prediction is
 * targets[i], and ce[i] = −CE(logits_i, targets[i]) (closer to the target is higher).
 */
export function scoreLogits(logits: Float32Array, y: Int32Array, targets?: Int32Array): { ce: Float64Array; wrong: Uint8Array } {
  const B = y.length, K = logits.length / B;
  const ce = new Float64Array(B), wrong = new Uint8Array(B);
  const pred = argmaxRows(logits, B);
  for (let i = 0; i < B; i++) {
    const row = i * K, max = logits[row + pred[i]];
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(logits[row + k] - max);
    const lse = max + Math.log(s);
    if (targets) {
      ce[i] = logits[row + targets[i]] - lse;
      wrong[i] = pred[i] === targets[i] ? 1 : 0;
    } else {
      ce[i] = lse - logits[row + y[i]];
      wrong[i] = pred[i] !== y[i] ? 1 : 0;
    }
    if (!Number.isFinite(ce[i])) ce[i] = NaN;
  }
  return { ce, wrong };
}

/** Logits of the model at x, without a tape. */
export function logitsAt(model: Classifier, x: Tensor): Float32Array {
  return noGrad(() => model.call(x).toArray());
}

/**
 * Σ_i loss_i(model(x)) and its gradient with respect to x only (no parameter gradients are
 * computed). Returns the gradient tensor (in the current scope) and the logits at x.
 * With `targets` (B), the loss is the targeted margin z_t − z_y per example instead (written as
 * Σ logits ⊙ (onehot(t) − onehot(y)), so it needs no gather op), or with targetLoss 'ce' the
 * negated cross-entropy to the target, −CE(z, t).
 */
export function lossGrad(model: Classifier, x: Tensor, y: Int32Array, loss: LossName, targets?: Int32Array, targetLoss: LossName = 'margin'): { g: Tensor; logits: Float32Array } {
  let logits: Tensor | null = null;
  const [g] = grad(() => {
    logits = model.call(x);
    if (targets && targetLoss === 'ce') {
      checkTargets(targets, logits.shape[0], logits.shape[1]);
      return neg(sum(softmaxCrossEntropy(logits, targets)));
    }
    if (targets) {
      const [B, K] = logits.shape;
      const m = new Float32Array(B * K);
      checkTargets(targets, B, K);
      for (let i = 0; i < B; i++) {
        m[i * K + targets[i]] += 1;
        m[i * K + y[i]] -= 1;
      }
      return sum(mul(logits, Tensor.from(x.engine, m, [B, K])));
    }
    return sum(loss === 'ce' ? softmaxCrossEntropy(logits, y) : marginLoss(logits, y));
  }, [x]);
  return { g, logits: logits!.toArray() };
}

/** Throws unless `targets` holds B class indices in [0, K). */
export function checkTargets(targets: Int32Array, B: number, K: number): void {
  if (targets.length !== B) throw new RangeError(`targets: expected ${B} classes (one per example), got ${targets.length}`);
  for (let i = 0; i < B; i++) {
    if (!(targets[i] >= 0 && targets[i] < K)) throw new RangeError(`targets[${i}] = ${targets[i]} is not a class in [0, ${K})`);
  }
}

/** Per example, the class of rank `rank` (1 = highest) among the logits other than y's. */
export function rankedTargets(logits: Float32Array, y: Int32Array, rank: number): Int32Array {
  const B = y.length, K = logits.length / B, out = new Int32Array(B);
  for (let i = 0; i < B; i++) {
    const others = Array.from({ length: K }, (_, k) => k).filter((k) => k !== y[i]);
    others.sort((a, b) => logits[i * K + b] - logits[i * K + a] || a - b);
    out[i] = others[Math.min(rank, others.length) - 1];
  }
  return out;
}

/**
 * The worst case found so far for each example: a misclassified point beats a correct one, then
 * the higher cross-entropy wins (the reference's restart rule, paper.md §1.5). `aux` carries a
 * per-example side record (the RT parameters, an affine attack's components) copied with the row.
 * With `targets` (one per tracker row) the ranking is the targeted one (scoreLogits): a point
 * classified as its target beats one that is not, then the lower cross-entropy to the target wins.
 */
export class WorstCase {
  readonly adv: Tensor;
  readonly wrong: Uint8Array;
  readonly ce: Float64Array;
  readonly aux: Float32Array;
  readonly auxWidth: number;
  readonly targets: Int32Array | undefined;

  constructor(x0: Tensor, auxWidth = 0, targets?: Int32Array) {
    const B = x0.shape[0];
    this.adv = Tensor.from(x0.engine, x0.view(), x0.shape);
    this.wrong = new Uint8Array(B);
    this.ce = new Float64Array(B).fill(-Infinity);
    this.auxWidth = auxWidth;
    this.aux = new Float32Array(B * auxWidth);
    this.targets = targets;
  }

  get batch(): number {
    return this.wrong.length;
  }

  /** True when the candidate (wrong, ce) beats example i's incumbent. NaN never wins. */
  beats(i: number, wrong: number, ce: number): boolean {
    if (Number.isNaN(ce)) return false;
    if (wrong !== this.wrong[i]) return wrong > this.wrong[i];
    return ce > this.ce[i];
  }

  /**
   * Offers the points x (B', …) whose logits are given; row r of x is example rows[r] of this
   * tracker (rows default to the identity). aux: B' × auxWidth values, or null.
   */
  offer(x: Tensor, logits: Float32Array, y: Int32Array, rows?: Int32Array, aux?: Float32Array | null): number {
    const t = this.targets && (rows ? rows.map((i) => this.targets![i]) as Int32Array : this.targets);
    const { ce, wrong } = scoreLogits(logits, y, t);
    const D = x.size / x.shape[0];
    const src = x.view(), dst = this.adv.view();
    let improved = 0;
    for (let r = 0; r < ce.length; r++) {
      const i = rows ? rows[r] : r;
      if (!this.beats(i, wrong[r], ce[r])) continue;
      this.wrong[i] = wrong[r];
      this.ce[i] = ce[r];
      dst.set(src.subarray(r * D, (r + 1) * D), i * D);
      if (aux && this.auxWidth) this.aux.set(aux.subarray(r * this.auxWidth, (r + 1) * this.auxWidth), i * this.auxWidth);
      improved++;
    }
    return improved;
  }
}

/** Mixes integers into one 31-bit seed (deterministic; distinct inputs give distinct streams in practice). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5 | 0;
  for (const p of parts) {
    let v = Math.floor(p) | 0;
    for (let k = 0; k < 2; k++) {
      h = Math.imul(h ^ (v & 0xffff), 0x01000193);
      v >>>= 16;
    }
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
    h ^= h >>> 15;
  }
  return h >>> 1;
}

/**
 * Keyed random starts for rows whose global ids may be non-contiguous: one kernel call per run
 * of consecutive ids, so example id always receives the draws of (seed, id).
 */
export function randomStartIds(engine: Engine, kind: RandomStartKind, out: F32Buf, eps: F32Buf, dim: number, ids: Int32Array, seed: number): void {
  let start = 0;
  while (start < ids.length) {
    let end = start + 1;
    while (end < ids.length && ids[end] === ids[end - 1] + 1) end++;
    randomStart(engine, {
      kind, batch: end - start, dim, seed, offset: ids[start],
      out: { ptr: out.ptr + 4 * start * dim, length: (end - start) * dim },
      eps: { ptr: eps.ptr + 4 * start, length: end - start },
    });
    start = end;
  }
}

/** Rows `rows` of a (B, …) tensor as a new tensor (B', …) in the current scope. */
export function gatherRows(t: Tensor, rows: Int32Array): Tensor {
  const D = t.size / t.shape[0];
  const out = Tensor.empty(t.engine, [rows.length, ...t.shape.slice(1)]);
  const src = t.view(), dst = out.view();
  for (let r = 0; r < rows.length; r++) dst.set(src.subarray(rows[r] * D, (rows[r] + 1) * D), r * D);
  return out;
}

/** The sub-batch of rows `rows`. */
export function subBatch(b: AttackBatch, rows: Int32Array): AttackBatch {
  const targets = b.targets && (rows.map((r) => b.targets![r]) as Int32Array);
  return { ...b, x0: gatherRows(b.x0, rows), y: rows.map((r) => b.y[r]) as Int32Array, ids: rows.map((r) => b.ids[r]) as Int32Array, ...(targets ? { targets } : {}) };
}

/** x0 + δ as a new tensor (no tape). */
export function addDelta(x0: Tensor, delta: F32Buf): Tensor {
  const x = Tensor.empty(x0.engine, x0.shape);
  const a = x0.view(), d = x0.engine.view(delta), o = x.view();
  for (let i = 0; i < o.length; i++) o[i] = a[i] + d[i];
  return x;
}

/** A per-example budget buffer (B floats) in the current scope. */
export function epsBuffer(engine: Engine, eps: number | Float32Array, B: number): F32Buf {
  const buf = engine.arena.allocF32(B);
  if (typeof eps === 'number') engine.view(buf).fill(eps);
  else engine.view(buf).set(eps);
  return buf;
}
