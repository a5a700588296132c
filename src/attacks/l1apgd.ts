// L1-APGD (Croce & Hein, "Mind the box", ICML 2021; AutoAttack's autopgd_base.py, L1 branch;
// paper.md §4.3): the strongest first-order L1 attack. Per example it keeps an adaptive sparsity
// k (the fraction of gradient coordinates a step moves) and an adaptive step size, and projects
// exactly onto the L1 ball ∩ the box.
//
//   start: x0 + P(z), z ~ N(0, 1) per coordinate scaled to ‖z‖₁ = ε (P: exact L1 ∩ box projection)
//          or x0 itself (randomStart: false)
//   step:  e = sign(g)·1[|g| ≥ (1 − k)-quantile of |g|]/count (f32_slide_dir, box-blocked
//          coordinates excluded), δ ← P(δ + η·e)
//   every c = max(⌊0.04·steps⌋, 1) steps, per example:
//          s = ‖x_best − x0‖₀;  k ← s/(D·1.5);
//          if s/s_old < 0.95 (the best point got sparser): η ← α·ε, and restart from x_best
//          else η ← η/1.5;  η clamped to [α·ε/10, α·ε];  s_old ← s
// with x_best the highest-loss point so far, α = 1, k₀ = 0.2 (AutoAttack's test-time values).
// NOTE: no momentum in the L1 branch (as AutoAttack). The loss is cross-entropy by default, as
// AutoAttack's APGD-CE (loss: 'margin' for the CW margin); on the paper's CNN after one epoch it
// leaves fewer examples robust (measured: 17.9 % vs 21.1 % at ε = 10, 40 steps, no large reps).
// Large reps (AutoAttack's standard L1 version): 30 % of the steps at 3ε, 30 % at 2ε, 40 % at ε,
// each phase from the previous one's best point; only the final phase's points count.
// NOTE: the sparsity k is per example; the direction kernel takes one percentile per call, so
// examples are grouped by equal k (few groups: k takes few distinct values).
// Shapes: δ, directions (B, D) in the arena; k, η, s_old, best loss (B) in JS.
import { projL1Box } from '../kernels/proj.ts';
import { slideDirection } from '../kernels/norms.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { checkCount, commonSettings, type Attack, type CommonOptions } from './attack.ts';
import { addDelta, epsBuffer, logitsAt, lossGrad, mixSeed, randomStartIds, rankedTargets, scoreLogits, type AttackBatch, type LossName, type WorstCase } from './core.ts';
import { enforceNorm, slideThreat, stepRows } from './pgd.ts';

export interface L1ApgdOptions extends CommonOptions {
  /** Initial sparsity: fraction of coordinates moved per step (default 0.2). */
  topk?: number;
  /** AutoAttack's ε schedule 3ε → 2ε → ε over the steps (default true, as its standard L1 version). */
  largeReps?: boolean;
  /**
   * Targeted runs after the untargeted restarts (AutoAttack's APGD-T; default 0): run j ascends the
   * targeted margin z_t − z_y towards the class of rank j among the other classes at x0.
   */
  targets?: number;
}

export class L1APGD implements Attack {
  readonly threat = 'L1';
  readonly eps: number;
  readonly steps: number;
  readonly restarts: number;
  readonly randomStart: boolean;
  readonly loss: LossName;
  readonly seed: number;
  readonly alpha: number;
  readonly topk: number;
  readonly largeReps: boolean;
  readonly untargeted: number;
  readonly targets: number;
  readonly auxWidth = 0;

  constructor(opts: L1ApgdOptions, readonly name = `l1apgd:${opts.eps}`) {
    ({ eps: this.eps, steps: this.steps, restarts: this.untargeted, randomStart: this.randomStart, loss: this.loss, seed: this.seed } = commonSettings(name, opts, { steps: 100, minSteps: 1, loss: 'ce' }));
    this.targets = checkCount(`${name}: targets`, opts.targets, 0, 0);
    if (this.targets > 9) throw new RangeError(`${name}: targets must be at most 9 (the other classes), got ${this.targets}`);
    // Runs: the untargeted restarts, then one per target rank; examples already fooled skip later runs.
    this.restarts = this.untargeted + this.targets;
    // The step is α·ε (AutoAttack: α = 1); stepSize/relStepSize set it.
    this.alpha = opts.stepSize !== undefined ? opts.stepSize / Math.max(this.eps, 1e-30) : opts.relStepSize ?? 1;
    if (!Number.isFinite(this.alpha) || this.alpha <= 0) throw new RangeError(`${name}: step size must be > 0`);
    this.topk = opts.topk ?? 0.2;
    if (!(this.topk > 0 && this.topk <= 1)) throw new RangeError(`${name}: topk must be in (0, 1], got ${opts.topk}`);
    this.largeReps = opts.largeReps ?? true;
  }

  cost(): { gradEvals: number; forwards: number } {
    return { gradEvals: this.steps, forwards: 1 };
  }

  runOnce(b: AttackBatch, track: WorstCase, restart: number, rows: Int32Array): void {
    const { engine, x0 } = b;
    const B = x0.shape[0], D = x0.size / B;
    const seed = mixSeed(this.seed, restart, 0x11);
    engine.arena.scope(() => {
      const delta = engine.arena.allocF32(B * D);
      if (this.randomStart) {
        // AutoAttack's start: Gaussian noise, projected. Our L2-sphere start is a Gaussian direction; scale it to ‖·‖₁ = ε.
        randomStartIds(engine, 'l2', delta, epsBuffer(engine, this.eps, B), D, b.ids, seed);
        const d = engine.view(delta);
        for (let i = 0; i < B; i++) {
          let l1 = 0;
          for (let j = i * D; j < (i + 1) * D; j++) l1 += Math.abs(d[j]);
          const s = l1 > 0 ? this.eps / l1 : 0;
          for (let j = i * D; j < (i + 1) * D; j++) d[j] *= s;
        }
      } else engine.view(delta).fill(0);
      // AutoAttack's "large reps" for L1: 30 % of the steps at 3ε, 30 % at 2ε, 40 % at ε, each phase
      // starting from the previous one's best point; only the last phase (at ε) offers candidates.
      const phases = this.largeReps && this.steps >= 10 ? [[3, 0.3], [2, 0.3], [1, 0.4]] : [[1, 1]];
      const targets = restart >= this.untargeted ? rankedTargets(engine.arena.scope(() => logitsAt(b.model, x0)), b.y, restart - this.untargeted + 1) : undefined;
      let done = 0;
      phases.forEach(([mult, frac], p) => {
        const steps = p === phases.length - 1 ? this.steps - done : Math.round(frac * this.steps);
        done += steps;
        this.phase(b, delta, mult * this.eps, steps, p > 0, p === phases.length - 1 ? { track, rows } : null, targets);
      });
    });
  }

  /**
   * One APGD run of `steps` steps from δ at budget eps; leaves its best point in δ. `warm`: δ comes
   * from an earlier phase (the sparsity starts from its L0 norm, as AutoAttack's x_init).
   */
  private phase(b: AttackBatch, delta: F32Buf, epsValue: number, steps: number, warm: boolean, offer: { track: WorstCase; rows: Int32Array } | null, targets?: Int32Array): void {
    const { engine, model, x0, y } = b;
    const B = x0.shape[0], D = x0.size / B;
    const top = this.alpha * epsValue;
    engine.arena.scope(() => {
      const eps = epsBuffer(engine, epsValue, B);
      const dir = engine.arena.allocF32(B * D);
      const bestDelta = engine.arena.allocF32(B * D), bestGrad = engine.arena.allocF32(B * D);
      projL1Box(engine, { batch: B, dim: D, delta, x0: x0.buf, eps });
      engine.view(bestDelta).set(engine.view(delta));
      const k = new Float64Array(B).fill(this.topk);
      const sOld = new Float64Array(B).fill(D);
      if (warm) {
        const d = engine.view(delta);
        for (let i = 0; i < B; i++) {
          let s = 0;
          for (let j = i * D; j < (i + 1) * D; j++) if (d[j] !== 0) s++;
          sOld[i] = s;
          k[i] = Math.min(1, Math.max(s / D / 1.5, 1 / D));
        }
      }
      const step = new Float32Array(B).fill(top);
      const bestLoss = new Float64Array(B).fill(-Infinity);
      const checkEvery = Math.max(Math.floor(0.04 * steps), 1);
      for (let t = 0; t < steps; t++) {
        engine.arena.scope(() => {
          const x = addDelta(x0, delta);
          const { g, logits } = lossGrad(model, x, y, this.loss, targets);
          if (offer) offer.track.offer(x, logits, y, offer.rows);
          // The step-size rule compares the attack's own loss (margin, CE or targeted margin) at each iterate.
          const lossNow = this.lossValues(logits, y, targets);
          const d = engine.view(delta), bd = engine.view(bestDelta), gv = g.view(), bg = engine.view(bestGrad);
          for (let i = 0; i < B; i++) {
            if (lossNow[i] > bestLoss[i]) {
              bestLoss[i] = lossNow[i];
              bd.set(d.subarray(i * D, (i + 1) * D), i * D);
              bg.set(gv.subarray(i * D, (i + 1) * D), i * D);
            }
          }
          if ((t + 1) % checkEvery === 0) {
            const back = this.adapt(bd, k, step, sOld, B, D, top);
            // Examples whose best point got sparser restart from it, with its gradient.
            const xv = x.view(), x0v = x0.view();
            for (const i of back) {
              d.set(bd.subarray(i * D, (i + 1) * D), i * D);
              gv.set(bg.subarray(i * D, (i + 1) * D), i * D);
              for (let j = i * D; j < (i + 1) * D; j++) xv[j] = x0v[j] + d[j];
            }
          }
          this.sparseDirection(b, g.buf, x.buf, dir, k, B, D);
          stepRows(engine, delta, dir, step, B, D);
          projL1Box(engine, { batch: B, dim: D, delta, x0: x0.buf, eps });
        });
      }
      engine.arena.scope(() => {
        const x = addDelta(x0, delta);
        const logits = logitsAt(model, x);
        if (offer) offer.track.offer(x, logits, y, offer.rows);
        const lossNow = this.lossValues(logits, y, targets);
        const d = engine.view(delta), bd = engine.view(bestDelta);
        for (let i = 0; i < B; i++) if (lossNow[i] > bestLoss[i]) bd.set(d.subarray(i * D, (i + 1) * D), i * D);
      });
      // The next phase starts from this phase's best point.
      engine.view(delta).set(engine.view(bestDelta));
    });
  }

  /** Per-example values of the loss the steps ascend. */
  private lossValues(logits: Float32Array, y: Int32Array, targets?: Int32Array): Float64Array {
    if (targets) {
      const K = logits.length / y.length;
      return Float64Array.from(y, (c, i) => logits[i * K + targets[i]] - logits[i * K + c]);
    }
    return this.loss === 'ce' ? scoreLogits(logits, y).ce : marginOf(logits, y);
  }

  /** AutoAttack's sparsity and step-size schedule (see the header); returns the examples to restart from their best point. */
  private adapt(bd: Float32Array, k: Float64Array, step: Float32Array, sOld: Float64Array, B: number, D: number, top: number): number[] {
    const back: number[] = [];
    for (let i = 0; i < B; i++) {
      let s = 0;
      for (let j = i * D; j < (i + 1) * D; j++) if (bd[j] !== 0) s++;
      const sparser = s / Math.max(sOld[i], 1) < 0.95;
      k[i] = Math.min(1, Math.max(s / D / 1.5, 1 / D));
      step[i] = sparser ? top : step[i] / 1.5;
      step[i] = Math.min(top, Math.max(top / 10, step[i]));
      sOld[i] = s;
      if (sparser) back.push(i);
    }
    return back;
  }

  /** dir ← the top-k sign direction per example, one kernel call per distinct k. */
  private sparseDirection(b: AttackBatch, g: F32Buf, x: F32Buf, dir: F32Buf, k: Float64Array, B: number, D: number): void {
    const groups = new Map<number, number[]>();
    for (let i = 0; i < B; i++) {
      const q = Math.min(100, Math.max(0, 100 * (1 - k[i])));
      const list = groups.get(q);
      if (list) list.push(i);
      else groups.set(q, [i]);
    }
    for (const [q, list] of groups) {
      // Runs of consecutive rows share one call.
      for (let s = 0; s < list.length;) {
        let e = s + 1;
        while (e < list.length && list[e] === list[e - 1] + 1) e++;
        const r0 = list[s], n = e - s, off = 4 * r0 * D;
        slideDirection(b.engine, { batch: n, dim: D, q, g: { ptr: g.ptr + off, length: n * D }, x: { ptr: x.ptr + off, length: n * D }, out: { ptr: dir.ptr + off, length: n * D } });
        s = e;
      }
    }
  }

  enforce(b: AttackBatch, track: WorstCase): void {
    enforceNorm(b, track, slideThreat(99, 'exact'), this.eps);
  }
}

/** Margin loss max_{j≠y} z_j − z_y per example (B), in float64. */
export function marginOf(logits: Float32Array, y: Int32Array): Float64Array {
  const B = y.length, K = logits.length / B, out = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    let other = -Infinity;
    for (let j = 0; j < K; j++) if (j !== y[i]) other = Math.max(other, logits[i * K + j]);
    out[i] = other - logits[i * K + y[i]];
  }
  return out;
}
