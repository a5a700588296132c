// L1-APGD (Croce & Hein, "Mind the box", ICML 2021; AutoAttack's autopgd_base.py, L1 branch;
// paper.md §4.3): the strongest first-order L1 attack. Per example it keeps an adaptive sparsity
// k (the fraction of gradient coordinates a step moves) and an adaptive step size, and projects
// exactly onto the L1 ball ∩ the box.
//
//   start: x0 + P(z), z ~ N(0, 1) per coordinate, NOT rescaled (P: the exact L1 ∩ box projection
//          at the first phase's budget; with ‖z‖₁ ≫ ε its threshold is large, so the start is
//          sparse), as AutoAttack; or x0 itself (randomStart: false)
//   step:  e = sign(g)·1[|g| ≥ (1 − k)-quantile of |g|]/count (f32_slide_dir, box-blocked
//          coordinates excluded), δ ← P(δ + η·e)
//   every c = max(⌊0.04·steps⌋, 1) steps, per example:
//          s = ‖x_best − x0‖₀;  k ← s/(D·1.5);
//          if s/s_old < 0.95 (the best point got sparser): η ← α·ε, and restart from x_best
//          else η ← η/1.5;  η clamped to [α·ε/10, α·ε];  s_old ← s
// with x_best the highest-loss point so far, α = 1, k₀ = 0.2 and s_old = D (AutoAttack's test-time
// values) for a run from a cold start; a run from a given point (a large-reps phase, see below)
// starts from k = ‖δ‖₀/(D·1.5) and s_old = ‖δ‖₀ (AutoAttack's x_init).
// NOTE: no momentum in the L1 branch (as AutoAttack). The loss is cross-entropy by default, as
// AutoAttack's APGD-CE (loss: 'dlr' for its DLR, 'margin' for the CW margin; losses.ts); on the
// paper's CNN after one epoch CE leaves fewer examples robust than the margin (measured: 17.9 % vs
// 21.1 % at ε = 10, 40 steps, no large reps).
// Targeted runs (`targets`, AutoAttack's APGD-T): after the untargeted `restarts`, run j ascends the
// targeted DLR loss (losses.ts 'dlr-t', needs ≥ 4 classes) towards the class of rank j among the
// other classes at x0; success stays untargeted misclassification (the tracker's rule).
// Large reps (AutoAttack's standard L1 version): ⌈30 %⌉ of the steps at 3ε, ⌈30 %⌉ at 2ε, the rest
// at ε, each phase from the previous one's best point (the random start, projected at 3ε, is the
// first phase's given point); only the final phase's points count.
// NOTE: the sparsity k is per example; the direction kernel takes one percentile per call, so
// examples are grouped by equal k (few groups: k takes few distinct values).
// Determinism: the start of example id is drawn from its own stream keyed by (seed, run, id).
// Shapes: δ, directions (B, D) in the arena; k, η, s_old, best loss (B) in JS.
import { projL1Box } from '../kernels/proj.ts';
import { slideDirection } from '../kernels/norms.ts';
import { Rng } from '../nn/init.ts';
import type { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { over, runSettings } from './apgd.ts';
import { checkCount, parseEps, type Attack, type CommonOptions } from './attack.ts';
import { addDelta, epsBuffer, logitsAt, mixSeed, rankedTargets, type AttackBatch, type WorstCase } from './core.ts';
import { attackLoss, lossInputGrad, type AttackLoss } from './losses.ts';
import { enforceNorm, slideThreat, stepRows } from './pgd.ts';
import { restartsOption, SEED_OPTION, stepsOption, type KindSpec, type OptionSpec, type Settings } from './schema.ts';

/** Losses of the untargeted runs. */
export type L1ApgdLoss = 'ce' | 'dlr' | 'margin';

export interface L1ApgdOptions extends Omit<CommonOptions, 'loss'> {
  /** Loss of the untargeted runs (default 'ce'). */
  loss?: L1ApgdLoss;
  /** Initial sparsity: fraction of coordinates moved per step (default 0.2). */
  topk?: number;
  /** AutoAttack's ε schedule 3ε → 2ε → ε over the steps (default true, as its standard L1 version). */
  largeReps?: boolean;
  /**
   * Targeted runs after the untargeted restarts (AutoAttack's APGD-T; default 0): run j ascends the
   * targeted DLR loss towards the class of rank j among the other classes at x0.
   */
  targets?: number;
}

export class L1APGD implements Attack {
  readonly threat = 'L1';
  readonly eps: number;
  readonly steps: number;
  readonly restarts: number;
  readonly randomStart: boolean;
  readonly loss: L1ApgdLoss;
  readonly seed: number;
  readonly alpha: number;
  readonly topk: number;
  readonly largeReps: boolean;
  readonly untargeted: number;
  readonly targets: number;
  readonly auxWidth = 0;

  constructor(opts: L1ApgdOptions, readonly name = `l1apgd:${opts.eps}`) {
    this.eps = parseEps(opts.eps);
    this.steps = checkCount(`${name}: steps`, opts.steps, 100, 1);
    this.untargeted = checkCount(`${name}: restarts`, opts.restarts, 1, 0);
    this.randomStart = opts.randomStart ?? true;
    this.seed = checkCount(`${name}: seed`, opts.seed, 0, 0);
    this.loss = opts.loss ?? 'ce';
    if (this.loss !== 'ce' && this.loss !== 'dlr' && this.loss !== 'margin') throw new RangeError(`${name}: loss must be 'ce', 'dlr' or 'margin', got '${this.loss}'`);
    this.targets = checkCount(`${name}: targets`, opts.targets, 0, 0);
    if (this.targets > 9) throw new RangeError(`${name}: targets must be at most 9 (the other classes), got ${this.targets}`);
    // Runs: the untargeted restarts, then one per target rank; examples already fooled skip later runs.
    this.restarts = this.untargeted + this.targets;
    if (this.restarts < 1) throw new RangeError(`${name}: needs at least one run (restarts + targets ≥ 1)`);
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

  /** The phases of a run: [budget multiple, steps] (AutoAttack's large reps: ⌈0.3n⌉, ⌈0.3n⌉, the rest). */
  phases(): [number, number][] {
    if (!this.largeReps || this.steps < 10) return [[1, this.steps]];
    const a = Math.ceil(0.3 * this.steps);
    return [[3, a], [2, a], [1, this.steps - 2 * a]];
  }

  runOnce(b: AttackBatch, track: WorstCase, restart: number, rows: Int32Array): { gradEvals: number; forwards: number } {
    const { engine, x0 } = b;
    const B = x0.shape[0], D = x0.size / Math.max(B, 1);
    const seed = mixSeed(this.seed, restart, 0x11);
    const targeted = restart >= this.untargeted;
    engine.arena.scope(() => {
      const phases = this.phases();
      const delta = engine.arena.allocF32(B * D);
      if (this.randomStart) l1RandomStart(engine, delta, x0, phases[0][0] * this.eps, b.ids, seed);
      else engine.view(delta).fill(0);
      let targets: Int32Array | undefined;
      if (targeted) {
        const logits0 = engine.arena.scope(() => logitsAt(b.model, x0));
        const rank = restart - this.untargeted + 1, K = logits0.length / Math.max(B, 1);
        if (rank > K - 1) throw new RangeError(`${this.name}: target rank ${rank} needs more than ${K} classes`);
        targets = rankedTargets(logits0, b.y, rank);
      }
      // Each phase starts from the previous one's best point; only the last one (at ε) offers
      // candidates. A phase from a given point (a random start under large reps, or a later phase)
      // takes its sparsity from that point, as AutoAttack's x_init.
      phases.forEach(([mult, steps], p) => {
        const last = p === phases.length - 1;
        this.phase(b, delta, mult * this.eps, steps, p > 0 || (phases.length > 1 && this.randomStart), last ? { track, rows } : null, targeted ? 'dlr-t' : this.loss, targets);
      });
    });
    return { gradEvals: this.steps * B, forwards: (targeted ? 2 : 1) * B };
  }

  /**
   * One APGD run of `steps` steps from δ at budget eps; leaves its best point in δ. `warm`: δ is a
   * given point (the sparsity starts from its L0 norm, as AutoAttack's x_init).
   */
  private phase(b: AttackBatch, delta: F32Buf, epsValue: number, steps: number, warm: boolean, offer: { track: WorstCase; rows: Int32Array } | null, loss: AttackLoss, targets?: Int32Array): void {
    const { engine, model, x0, y } = b;
    const B = x0.shape[0], D = x0.size / Math.max(B, 1);
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
          const { g, logits, values } = lossInputGrad(model, x, y, loss, targets);
          if (offer) offer.track.offer(x, logits, y, offer.rows);
          // The step-size rule compares the attack's own loss (CE, DLR, margin or targeted DLR) at each iterate.
          const d = engine.view(delta), bd = engine.view(bestDelta), gv = g.view(), bg = engine.view(bestGrad);
          for (let i = 0; i < B; i++) {
            if (values[i] > bestLoss[i]) {
              bestLoss[i] = values[i];
              bd.set(d.subarray(i * D, (i + 1) * D), i * D);
              bg.set(gv.subarray(i * D, (i + 1) * D), i * D);
            }
          }
          // A checkpoint after every c steps (x⁽ᵗ⁾ is the point after t steps, as AutoAttack's counter).
          if (t > 0 && t % checkEvery === 0) {
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
        const lossNow = attackLoss(loss, logits, y, targets);
        const d = engine.view(delta), bd = engine.view(bestDelta);
        for (let i = 0; i < B; i++) if (lossNow[i] > bestLoss[i]) bd.set(d.subarray(i * D, (i + 1) * D), i * D);
      });
      // The next phase starts from this phase's best point.
      engine.view(delta).set(engine.view(bestDelta));
    });
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

  settings(): Settings {
    return {
      ...runSettings(this),
      step: `${+this.alpha.toPrecision(6)}ε, sparsity ${+this.topk.toPrecision(6)}, L1-APGD schedule`,
      large_reps: this.phases().length > 1,
      random_start: this.randomStart,
      seed: this.seed,
    };
  }
}

/**
 * AutoAttack's L1 random start into δ (B, D): z ~ N(0, 1) per coordinate, not rescaled, then the
 * exact projection onto the L1 ball of radius eps ∩ the box around x0 (sparse, since ‖z‖₁ ≫ eps).
 * Example ids[i] draws from its own stream keyed by (seed, ids[i]).
 */
export function l1RandomStart(engine: Engine, delta: F32Buf, x0: Tensor, eps: number, ids: Int32Array, seed: number): void {
  const B = x0.shape[0], D = x0.size / Math.max(B, 1);
  const d = engine.view(delta);
  for (let i = 0; i < B; i++) {
    const rng = new Rng(mixSeed(seed, ids[i]));
    for (let j = i * D; j < (i + 1) * D; j++) d[j] = rng.normal();
  }
  engine.arena.scope(() => projL1Box(engine, { batch: B, dim: D, delta, x0: x0.buf, eps: epsBuffer(engine, eps, B) }));
}

/** The options of the L1-APGD kinds; `restartsCli`: the CLI's --restarts sets the untargeted runs. */
function l1apgdOptions(restarts: string, targets: string, restartsCli: boolean): OptionSpec[] {
  const help = 'untargeted runs, each from a new random start (may be 0 when targets ≥ 1)';
  return [
    { ...stepsOption('100', 'iterations per run (all phases of the large reps together)'), min: 1 },
    restartsCli ? { ...restartsOption(restarts, help), min: 0 } : { key: 'restarts', type: 'int', min: 0, default: restarts, help },
    { key: 'targets', type: 'int', min: 0, max: 9, default: targets, help: 'targeted-DLR runs after the untargeted ones, towards the classes ranked 1…n at x0' },
    { key: 'loss', type: 'enum', values: ['ce', 'dlr', 'margin'], default: 'ce', help: 'loss of the untargeted runs' },
    { key: 'randomstart', field: 'randomStart', type: 'bool', default: 'true', help: 'start from a Gaussian projected onto the L1 ball ∩ box (sparse)' },
    { key: 'stepsize', field: 'stepSize', type: 'number', min: 0, default: 'from relstep', help: 'absolute initial step size (wins over relstep)' },
    { key: 'relstep', field: 'relStepSize', type: 'number', min: 0, default: '1', help: 'initial step size as a multiple of ε' },
    { key: 'topk', type: 'number', min: 0, max: 1, default: '0.2', help: 'initial fraction of the coordinates a step moves' },
    { key: 'largereps', field: 'largeReps', type: 'bool', default: 'true', help: 'budget schedule 3ε → 2ε → ε over 30 % / 30 % / 40 % of the steps' },
    SEED_OPTION,
  ];
}

/** Token kinds of L1-APGD (parse.ts): l1apgd (= apgd-l1, APGD-CE) and apgdt-l1 (APGD-T, 5 targets). */
export const L1APGD_KINDS: KindSpec[] = [
  { kind: 'l1apgd', summary: 'L1-APGD (Croce & Hein): adaptive sparse steps, exact L1 ball ∩ box projection', positional: 'eps', options: l1apgdOptions('1', '0', true), build: (o, t) => new L1APGD(o as unknown as L1ApgdOptions, t) },
  { kind: 'apgd-l1', summary: "AutoAttack's L1 APGD-CE (the same attack as l1apgd)", positional: 'eps', options: l1apgdOptions('1', '0', true), build: (o, t) => new L1APGD(o as unknown as L1ApgdOptions, t) },
  { kind: 'apgdt-l1', summary: "AutoAttack's L1 APGD-T: targeted DLR towards the 5 most likely other classes, large reps", positional: 'eps', options: l1apgdOptions('0', '5', false), build: (o, t) => new L1APGD(over({ restarts: 0, targets: 5 }, o) as unknown as L1ApgdOptions, t) },
];

