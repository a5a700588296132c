// The per-example checks of an evaluation (evaluate.ts), collected while it runs and judged in
// report.ts: the data (enough NHWC f32 values, int32 labels, images in [0, 1]), each adversarial
// point inside its ε-ball (with an f32 rounding tolerance) or its RT box, and the health of the
// input gradients of the first batch (all-zero or non-finite rows).
import { grad } from '../autograd.ts';
import type { ThreatName } from '../attacks/attack.ts';
import type { Classifier } from '../attacks/core.ts';
import { marginLoss, sum } from '../ops/index.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';
import type { EvalData } from './evaluate.ts';

/** The index of the first of values[0, count) outside [0, 1] (NaN included), or −1. */
export function firstOutsideUnit(values: ArrayLike<number>, count: number): number {
  for (let i = 0; i < count; i++) if (!(values[i] >= 0 && values[i] <= 1)) return i;
  return -1;
}

/** Throws RangeError unless `data` holds n examples of the right types with images in [0, 1]. */
export function checkData(data: EvalData, n: number): void {
  const D = data.height * data.width * data.channels;
  if (!(data.images instanceof Float32Array) || data.images.length < n * D) throw new RangeError(`evaluate: images hold ${data.images?.length} values, ${n} examples of ${data.height}×${data.width}×${data.channels} need ${n * D}`);
  if (!(data.labels instanceof Int32Array) || data.labels.length < n) throw new RangeError(`evaluate: labels must be an Int32Array of at least ${n} values`);
  const i = firstOutsideUnit(data.images, n * D);
  if (i >= 0) throw new RangeError(`evaluate: images must lie in [0, 1], got ${data.images[i]} at index ${i} (example ${Math.floor(i / D)})`);
}

/** Per-row (l1, l2, linf) norms of a − b over rows of D, in float64. */
export function rowNorms(a: Float32Array, b: Float32Array, D: number, row: number): [number, number, number] {
  let l1 = 0, l2 = 0, li = 0;
  for (let j = row * D; j < (row + 1) * D; j++) {
    const d = Math.abs(a[j] - b[j]);
    l1 += d;
    l2 += d * d;
    li = Math.max(li, d);
  }
  return [l1, Math.sqrt(l2), li];
}

/** Tolerance of the in-ball check: f32 rounding of x0 + δ, summed over D coordinates for L1. */
export function ballTolerance(threat: ThreatName, eps: number, D: number): number {
  const ulp = 6e-8;
  return 1e-6 * eps + (threat === 'L1' ? D * ulp : threat === 'L2' ? Math.sqrt(D) * ulp : ulp);
}

/** The RT parameters (θ radians, tx, ty) lie in the attack's box. */
export function insideRtBox(atk: { px: number; deg: number }, p: Float32Array): boolean {
  const tol = 1e-6;
  return Math.abs(p[0]) <= (atk.deg * Math.PI) / 180 + tol && Math.abs(p[1]) <= atk.px + tol && Math.abs(p[2]) <= atk.px + tol;
}

/** Fraction of clean examples whose input gradient (margin loss) is all zero or not finite. */
export function gradientHealth(engine: Engine, model: Classifier, x: Float32Array, y: Int32Array, shape: number[]): { zero: number; nonFinite: number } {
  return engine.arena.scope(() => {
    const xt = Tensor.from(engine, x, shape);
    const [g] = grad(() => sum(marginLoss(model.call(xt), y)), [xt]);
    const v = g.view(), B = shape[0], D = v.length / B;
    let zero = 0, nonFinite = 0;
    for (let i = 0; i < B; i++) {
      let any = false, bad = false;
      for (let j = i * D; j < (i + 1) * D; j++) {
        if (!Number.isFinite(v[j])) bad = true;
        else if (v[j] !== 0) any = true;
      }
      if (bad) nonFinite++;
      else if (!any) zero++;
    }
    return { zero, nonFinite };
  });
}
