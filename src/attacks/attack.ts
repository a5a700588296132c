// The attack contract and the wrapper that enforces it (foolbox's FixedEpsilonAttack.__call__,
// design.md §3.6): restarts with the per-example worst case, examples already fooled leave the
// batch, and every result is put back inside its threat model by the wrapper itself; a point the
// projection moved is scored again, so a flag never rests on an attack's own claim (an unmoved
// point keeps the scores of the forward pass that produced it).
//
// Shapes: x0 and results (B, H, W, C) NHWC in [0, 1]; y, ids (B). Threading: the kernels'.
import { Tensor } from '../tensor.ts';
import type { Settings } from './schema.ts';
import { gatherRows, logitsAt, scoreLogits, subBatch, WorstCase, type AttackBatch, type LossName } from './core.ts';

export type ThreatName = 'Linf' | 'L2' | 'L1' | 'RT' | 'affine';

export interface Attack {
  /** The token that builds it (e.g. 'linf:0.3:steps=40'). */
  readonly name: string;
  readonly threat: ThreatName;
  /** The budget (L∞/L2/L1); null for RT and affine mixes. */
  readonly eps: number | null;
  readonly restarts: number;
  /** Floats of per-example side data the attack keeps with each candidate (RT parameters, affine components). */
  readonly auxWidth: number;
  /** True when runOnce honours AttackBatch.targets (the PGD family); runAttack refuses targets otherwise. */
  readonly targetable?: boolean;
  /** Model evaluations per example of one restart: gradients, and forwards without a gradient. */
  cost(dim: number): { gradEvals: number; forwards: number };
  /**
   * One restart over the batch; offers its candidates to `track` (row r of b is row rows[r] of
   * track). May return the model evaluations it really made (default: cost() per example).
   */
  runOnce(b: AttackBatch, track: WorstCase, restart: number, rows: Int32Array): void | { gradEvals: number; forwards: number };
  /** Puts every track.adv row back inside the threat model around x0 (using track.aux where needed). */
  enforce(b: AttackBatch, track: WorstCase): void;
  /**
   * The resolved settings (steps, restarts, queries, loss, step rule, seed, …): printed in the
   * report and hashed into the resume key, so two runs with other settings never mix.
   */
  settings(): Settings;
}

/** Options every iterative attack takes (issue 16: common options). */
export interface CommonOptions {
  /** Budget: a number or a fraction string such as '8/255'. */
  eps: number | string;
  steps?: number;
  /** Absolute step size (wins over relStepSize). */
  stepSize?: number;
  /** Step size as a multiple of eps. */
  relStepSize?: number;
  randomStart?: boolean;
  restarts?: number;
  /** Loss the steps ascend: 'margin' (CW, the reference's default) or 'ce'. */
  loss?: LossName;
  seed?: number;
}

/** Parses a budget: a finite number ≥ 0, or 'a/b'. */
export function parseEps(eps: number | string, what = 'eps'): number {
  let v = NaN;
  if (typeof eps === 'number') v = eps;
  else if (typeof eps === 'string') {
    const m = /^\s*([0-9.eE+-]+)\s*(?:\/\s*([0-9.eE+-]+))?\s*$/.exec(eps);
    if (m) v = m[2] === undefined ? Number(m[1]) : Number(m[1]) / Number(m[2]);
  }
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`${what} must be a number ≥ 0 (or a fraction like 8/255), got '${eps}'`);
  return v;
}

/** Throws unless `loss` names a loss the steps can ascend. */
export function checkLoss(name: string, loss: string): LossName {
  if (loss !== 'margin' && loss !== 'ce') throw new RangeError(`${name}: loss must be 'margin' or 'ce', got '${loss}'`);
  return loss;
}

/** The options every iterative attack shares, validated; `defaults` are the attack's own. */
export function commonSettings(name: string, opts: CommonOptions, defaults: { steps: number; minSteps: number; loss: LossName }) {
  return {
    eps: parseEps(opts.eps),
    steps: checkCount(`${name}: steps`, opts.steps, defaults.steps, defaults.minSteps),
    restarts: checkCount(`${name}: restarts`, opts.restarts, 1),
    randomStart: opts.randomStart ?? true,
    loss: checkLoss(name, opts.loss ?? defaults.loss),
    seed: checkCount(`${name}: seed`, opts.seed, 0, 0),
  };
}

export function checkCount(what: string, v: number | undefined, fallback: number, min = 1): number {
  const n = v ?? fallback;
  if (!Number.isInteger(n) || n < min) throw new RangeError(`${what} must be an integer ≥ ${min}, got ${v}`);
  return n;
}

export interface AttackOutcome {
  /** The adversarial points, inside the threat model (B, H, W, C); in the caller's scope. */
  adv: Tensor;
  /** 1 where adv is misclassified. */
  wrong: Uint8Array;
  /** Cross-entropy at adv. */
  ce: Float64Array;
  /** The attack's per-example side data (RT parameters, …). */
  aux: Float32Array;
  /** Per-example gradient evaluations and gradient-free forwards, summed over the batch. */
  gradEvals: number;
  forwards: number;
}

/**
 * Runs `attack` with its restarts on the batch. With `earlyStop` (accuracy only), an example leaves
 * the batch once it is misclassified; otherwise every restart runs on every example and the one
 * with the highest cross-entropy is kept. The result is enforced and re-scored.
 * With b.targets (targetable attacks only) every flag and score is the targeted one: `wrong` = 1
 * where adv is classified as its target, `ce` = −(cross-entropy to the target) (core.ts scoreLogits).
 */
export function runAttack(attack: Attack, b: AttackBatch, opts: { earlyStop?: boolean } = {}): AttackOutcome {
  const earlyStop = opts.earlyStop ?? b.earlyStop ?? true;
  b = { ...b, earlyStop };
  const B = b.x0.shape[0], D = b.x0.size / Math.max(1, B);
  if (b.targets) {
    if (!attack.targetable) throw new RangeError(`${attack.name}: this attack does not take per-example targets`);
    if (b.targets.length !== B) throw new RangeError(`${attack.name}: expected ${B} targets (one per example), got ${b.targets.length}`);
  }
  const per = attack.cost(D);
  const track = new WorstCase(b.x0, attack.auxWidth, b.targets);
  let gradEvals = 0, forwards = 0;
  for (let r = 0; r < attack.restarts; r++) {
    const rows = Int32Array.from({ length: B }, (_, i) => i).filter((i) => !(earlyStop && track.wrong[i]));
    if (rows.length === 0) break;
    const used = b.engine.arena.scope(() => attack.runOnce(rows.length === B ? b : subBatch(b, rows), track, r, rows));
    gradEvals += used ? used.gradEvals : per.gradEvals * rows.length;
    forwards += used ? used.forwards : per.forwards * rows.length;
  }
  const before = track.adv.toArray();
  attack.enforce(b, track);
  checkFiniteRows(attack.name, track.adv);
  // Score what is returned: a row that enforcement moved is scored again by a fresh forward pass;
  // an unmoved row keeps the scores the tracker took from the model's logits at exactly that point.
  // Rows never offered a candidate (ce = −∞) have no scores yet: they are scored too.
  const moved = changedRows(before, track.adv.view(), B, (r) => track.ce[r] === -Infinity);
  const wrong = track.wrong.slice(), ce = track.ce.slice();
  if (moved.length) {
    const fresh = scoreLogits(b.engine.arena.scope(() => logitsAt(b.model, gatherRows(track.adv, moved))), moved.map((r) => b.y[r]) as Int32Array, b.targets && (moved.map((r) => b.targets![r]) as Int32Array));
    moved.forEach((r, i) => {
      wrong[r] = fresh.wrong[i];
      ce[r] = fresh.ce[i];
    });
  }
  return { adv: track.adv, wrong, ce, aux: track.aux, gradEvals, forwards: forwards + moved.length };
}

/** Rows (of B) where two arrays differ in any bit, or that `also` names. */
function changedRows(a: Float32Array, b: Float32Array, B: number, also: (row: number) => boolean): Int32Array {
  const D = a.length / Math.max(1, B), ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const out: number[] = [];
  for (let r = 0; r < B; r++) {
    if (also(r)) {
      out.push(r);
      continue;
    }
    for (let j = r * D; j < (r + 1) * D; j++) {
      if (ua[j] !== ub[j]) {
        out.push(r);
        break;
      }
    }
  }
  return Int32Array.from(out);
}

function checkFiniteRows(name: string, adv: Tensor): void {
  const v = adv.view();
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) throw new Error(`attack ${name}: produced a non-finite value at index ${i} (${v[i]}): the model's output or gradient is NaN/Inf`);
  }
}
