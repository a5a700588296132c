// Per-example attack losses of logits z (B, K), in float64, with their gradient ∂loss_i/∂z_i, and
// the input gradient ∂(Σ_i loss_i)/∂x with the logits and per-example values from ONE forward and
// backward pass (AutoAttack's criterion_indiv; paper.md §6.1). Every loss is one the attacker
// ascends:
//   ce      logsumexp(z) − z_y
//   margin  max_{j≠y} z_j − z_y                                   (CW)
//   dlr     −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3 + 1e-12)         (AutoAttack's DLR; K ≥ 3)
//   dlr-t   −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12)        (targeted DLR, target t; K ≥ 4)
// with π the classes sorted by decreasing logit. At ties the gradient takes the first class of the
// tie (the loss is not differentiable there; any choice is a subgradient of the max).
// The input gradient is taken as ∂/∂x Σ_{i,k} z_ik·G_ik with G = ∂loss/∂z computed here in JS and
// held constant (as core.ts lossGrad's targeted margin): the tape needs no loss op, and each row's
// gradient depends on that row only.
// Shapes: logits (B, K) row-major; y, targets (B); values (B); cotangent G (B, K).
import { grad } from '../autograd.ts';
import { mul, sum } from '../ops/index.ts';
import { Tensor } from '../tensor.ts';
import type { Classifier } from './core.ts';

export type AttackLoss = 'ce' | 'margin' | 'dlr' | 'dlr-t';

export const ATTACK_LOSSES: readonly AttackLoss[] = ['ce', 'margin', 'dlr', 'dlr-t'];

type Logits = Float32Array | Float64Array;

/** Throws unless the loss can be computed for K classes (with targets where it needs them). */
export function checkAttackLoss(loss: AttackLoss, K: number, B: number, y: Int32Array, targets?: Int32Array): void {
  if (!ATTACK_LOSSES.includes(loss)) throw new RangeError(`attack loss must be one of ${ATTACK_LOSSES.join(', ')}, got '${loss}'`);
  if (loss === 'dlr' && K < 3) throw new RangeError(`the DLR loss needs at least 3 classes (it divides by z_π1 − z_π3), got ${K}`);
  if (loss === 'dlr-t' && K < 4) throw new RangeError(`the targeted DLR loss needs at least 4 classes (it divides by z_π1 − (z_π3 + z_π4)/2), got ${K}`);
  if (K < 2 && loss !== 'ce') throw new RangeError(`the ${loss} loss needs at least 2 classes, got ${K}`);
  if (y.length !== B) throw new RangeError(`attack loss: expected ${B} labels, got ${y.length}`);
  for (let i = 0; i < B; i++) if (!(y[i] >= 0 && y[i] < K)) throw new RangeError(`attack loss: label ${i} = ${y[i]} is not a class in [0, ${K})`);
  if (loss === 'dlr-t') {
    if (!targets || targets.length !== B) throw new RangeError(`the targeted DLR loss needs ${B} targets (one per example), got ${targets ? targets.length : 'none'}`);
    for (let i = 0; i < B; i++) if (!(targets[i] >= 0 && targets[i] < K)) throw new RangeError(`targets[${i}] = ${targets[i]} is not a class in [0, ${K})`);
  }
}

/**
 * Per-example values of `loss` (B) and, when `cot` (B·K) is given, their gradients with respect to
 * the logits written into it. logits (B, K) f32 or f64; all arithmetic in float64.
 */
export function attackLoss(loss: AttackLoss, logits: Logits, y: Int32Array, targets?: Int32Array, cot?: Float64Array | Float32Array): Float64Array {
  const B = y.length, K = B > 0 ? logits.length / B : 0;
  if (!Number.isInteger(K) || (B > 0 && K < 1)) throw new RangeError(`attack loss: ${logits.length} logits do not split into ${B} rows`);
  checkAttackLoss(loss, K, B, y, targets);
  if (cot && cot.length !== B * K) throw new RangeError(`attack loss: the cotangent needs ${B * K} values, got ${cot.length}`);
  const out = new Float64Array(B);
  if (cot) cot.fill(0);
  for (let i = 0; i < B; i++) {
    const r = i * K, c = y[i];
    if (loss === 'ce') {
      let max = -Infinity;
      for (let k = 0; k < K; k++) if (logits[r + k] > max) max = logits[r + k];
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.exp(logits[r + k] - max);
      out[i] = max + Math.log(s) - logits[r + c];
      if (cot) {
        for (let k = 0; k < K; k++) cot[r + k] = Math.exp(logits[r + k] - max) / s;
        cot[r + c] -= 1;
      }
      continue;
    }
    // The best other class (first maximum among j ≠ y).
    let m = -1;
    for (let k = 0; k < K; k++) if (k !== c && (m < 0 || logits[r + k] > logits[r + m])) m = k;
    if (loss === 'margin') {
      out[i] = logits[r + m] - logits[r + c];
      if (cot) {
        cot[r + m] += 1;
        cot[r + c] -= 1;
      }
      continue;
    }
    // DLR: the four largest logits' classes π1..π4 (descending, first index on ties).
    let p1 = -1, p2 = -1, p3 = -1, p4 = -1;
    for (let k = 0; k < K; k++) {
      const v = logits[r + k];
      if (p1 < 0 || v > logits[r + p1]) { p4 = p3; p3 = p2; p2 = p1; p1 = k; }
      else if (p2 < 0 || v > logits[r + p2]) { p4 = p3; p3 = p2; p2 = k; }
      else if (p3 < 0 || v > logits[r + p3]) { p4 = p3; p3 = k; }
      else if (p4 < 0 || v > logits[r + p4]) p4 = k;
    }
    const other = loss === 'dlr' ? m : targets![i];
    const num = logits[r + other] - logits[r + c];
    let den: number;
    if (loss === 'dlr') den = logits[r + p1] - logits[r + p3] + 1e-12;
    else den = logits[r + p1] - 0.5 * (logits[r + p3] + logits[r + p4]) + 1e-12;
    out[i] = num / den;
    if (cot) {
      // ∂(num/den) = ∂num/den − num/den²·∂den
      const a = 1 / den, b = num / (den * den);
      cot[r + other] += a;
      cot[r + c] -= a;
      cot[r + p1] -= b;
      if (loss === 'dlr') cot[r + p3] += b;
      else {
        cot[r + p3] += 0.5 * b;
        cot[r + p4] += 0.5 * b;
      }
    }
  }
  return out;
}

/**
 * ∂(Σ_i loss_i)/∂x (a tensor in the current scope), the logits at x (B, K) and the per-example loss
 * values (B), from one forward and one backward pass of `model` at x. `targets` (B) for 'dlr-t'.
 */
export function lossInputGrad(model: Classifier, x: Tensor, y: Int32Array, loss: AttackLoss, targets?: Int32Array): { g: Tensor; logits: Float32Array; values: Float64Array } {
  let logits: Float32Array | null = null, values: Float64Array | null = null;
  const [g] = grad(() => {
    const z = model.call(x);
    if (z.rank !== 2) throw new RangeError(`attack loss: the model's output must be logits (B, K), got shape [${z.shape}]`);
    const [B, K] = z.shape;
    logits = z.toArray();
    const cot = new Float32Array(B * K);
    values = attackLoss(loss, logits, y, targets, cot);
    return sum(mul(z, Tensor.from(x.engine, cot, [B, K])));
  }, [x]);
  return { g, logits: logits!, values: values! };
}
