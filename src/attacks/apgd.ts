// APGD for L∞ and L2 (Croce & Hein, ICML 2020; AutoAttack's autopgd_base.py, attack_single_run for
// those norms; paper.md §6.1): PGD whose step size adapts per example, with momentum, and
// AutoAttack's targeted runs (APGD-T). Every run works on the iterate x (not δ), as AutoAttack:
//
//   start:  L∞: x = clip₀¹(x0 + ε·u/max|u|), u ~ U(−1, 1)^D;  L2: x = clip₀¹(x0 + ε·z/‖z‖₂), z ~ N(0, I)
//           (no other projection, as AutoAttack); or x0 itself (randomStart: false)
//   step k (η_i per example, from relStep·ε = 2ε; a = 1 at the first step, then the momentum 0.75):
//           z = P(x + η·dir(g));  x ← P(x + a·(z − x) + (1 − a)·(x − x_prev))
//           L∞: dir = sign(g), P = clamp to [max(x0 − ε, 0), min(x0 + ε, 1)] coordinate-wise
//           L2: dir = g/(‖g‖₂ + 1e-12), P(v) = clip₀¹(x0 + (v − x0)·min(ε, ‖v − x0‖₂)/(‖v − x0‖₂ + 1e-12))
//           (rescale into the ball, then clip to the box: AutoAttack's order). Both P are exact JS
//           loops over the arena rows here, fused with the momentum step; no kernel call per step.
//   checkpoints (ApgdSchedule): the first after w = max(⌊0.22·n⌋, 1) steps, then w ← max(w − max(⌊0.03·n⌋, 1),
//           max(⌊0.06·n⌋, 1)). At one, example i halves η_i when its loss rose in ≤ ρ·w (ρ = 0.75) of the
//           w steps since the last checkpoint, or when η_i was not halved at the last one and its best
//           loss has not improved since; a halved example restarts from its best point x_best (the
//           highest loss so far) with that point's gradient; x_prev stays (AutoAttack's momentum
//           then pulls from the last iterate).
// NOTE: AutoAttack's code counts the first step of the first window as "rose" when its loss is
// above 0 (an index wrap: loss_steps[−1] of a zero-filled array); here it is compared with the
// loss at the start, as the paper's condition (f(x⁽¹⁾) > f(x⁽⁰⁾)).
// Runs: `restarts` untargeted runs with `loss` (ce by default: APGD-CE; dlr: APGD-DLR; margin), then
// `targets` runs of targeted DLR (losses.ts 'dlr-t'), run j towards the class of rank j among the
// other classes at x0 (AutoAttack's APGD-T). Success is always untargeted misclassification: every
// iterate goes to the per-example tracker (misclassified first, then higher cross-entropy), which
// also keeps a misclassified iterate that the loss later leaves.
// Cost per run: `steps` gradient evaluations (at x⁽⁰⁾ … x⁽ⁿ⁻¹⁾) and one forward at x⁽ⁿ⁾ (AutoAttack's
// n_iter + 1 evaluations, the last gradient being unused); targeted runs add one forward at x0.
// Determinism: random starts keyed by (seed, run, example id) (core.ts randomStartIds), every
// per-step computation is per row: an example's result does not depend on its batch.
// Shapes: x, x_prev, x_best, g_best (B, D) in the arena; η, best loss, schedule state (B) in JS.
import { Tensor } from '../tensor.ts';
import { checkCount, parseEps, type Attack } from './attack.ts';
import { epsBuffer, logitsAt, mixSeed, randomStartIds, rankedTargets, type AttackBatch, type WorstCase } from './core.ts';
import { lossInputGrad, type AttackLoss } from './losses.ts';
import { enforceNorm, l2Threat, linfThreat } from './pgd.ts';
import { restartsOption, SEED_OPTION, stepsOption, type KindSpec, type OptionSpec, type Settings } from './schema.ts';

/** Losses of the untargeted runs. */
export type ApgdLoss = 'ce' | 'dlr' | 'margin';

export interface ApgdOptions {
  /** Budget: a number or a fraction string such as '8/255'. */
  eps: number | string;
  /** Iterations per run (default 100). */
  steps?: number;
  /** Untargeted runs (default 1; may be 0 when targets ≥ 1). */
  restarts?: number;
  /** Loss of the untargeted runs (default 'ce'). */
  loss?: ApgdLoss;
  /** Targeted-DLR runs after the untargeted ones (default 0; at most 9). */
  targets?: number;
  randomStart?: boolean;
  seed?: number;
  /** Initial step size as a multiple of ε (default 2). */
  relStepSize?: number;
  /** Momentum weight of the previous move (default 0.75). */
  momentum?: number;
}

/** AutoAttack's checkpoint parameters for n steps: first window, its decrement, its minimum. */
export function apgdCheckpoints(steps: number): { first: number; decr: number; min: number } {
  return { first: Math.max(Math.floor(0.22 * steps), 1), decr: Math.max(Math.floor(0.03 * steps), 1), min: Math.max(Math.floor(0.06 * steps), 1) };
}

/**
 * APGD's step-halving rule for a batch (see the header): start() with the losses at x⁽⁰⁾, then
 * observe() after each later iterate with its losses and the best losses so far (that iterate
 * included). observe() returns null between checkpoints, else the examples whose step halves
 * (and which restart from their best point).
 */
export class ApgdSchedule {
  private readonly decr: number;
  private readonly kMin: number;
  private readonly first: number;
  private k: number;
  private counter = 0;
  private readonly prev: Float64Array;
  private readonly rose: Int32Array;
  private readonly bestAtCheck: Float64Array;
  private readonly halvedAtCheck: Uint8Array;

  constructor(readonly batch: number, steps: number, readonly rho = 0.75) {
    ({ first: this.first, decr: this.decr, min: this.kMin } = apgdCheckpoints(steps));
    this.k = this.first;
    this.prev = new Float64Array(batch);
    this.rose = new Int32Array(batch);
    this.bestAtCheck = new Float64Array(batch);
    this.halvedAtCheck = new Uint8Array(batch);
  }

  /** The steps between the last checkpoint and the next. */
  get window(): number {
    return this.k;
  }

  start(loss: ArrayLike<number>): void {
    for (let i = 0; i < this.batch; i++) {
      this.prev[i] = loss[i];
      this.bestAtCheck[i] = loss[i];
    }
    this.rose.fill(0);
    // As AutoAttack (reduced_last_check = 1): the first checkpoint cannot halve for lack of progress.
    this.halvedAtCheck.fill(1);
    this.k = this.first;
    this.counter = 0;
  }

  observe(loss: ArrayLike<number>, best: ArrayLike<number>): number[] | null {
    for (let i = 0; i < this.batch; i++) {
      if (loss[i] > this.prev[i]) this.rose[i]++;
      this.prev[i] = loss[i];
    }
    if (++this.counter < this.k) return null;
    const out: number[] = [];
    for (let i = 0; i < this.batch; i++) {
      const oscillating = this.rose[i] <= this.k * this.rho;
      const stalled = !this.halvedAtCheck[i] && this.bestAtCheck[i] >= best[i];
      const halve = oscillating || stalled;
      this.halvedAtCheck[i] = halve ? 1 : 0;
      this.bestAtCheck[i] = best[i];
      this.rose[i] = 0;
      if (halve) out.push(i);
    }
    this.k = Math.max(this.k - this.decr, this.kMin);
    this.counter = 0;
    return out;
  }
}

/**
 * The schedule on one example's hand-made loss sequence: losses[t] is the loss at iterate t
 * (t = 0 the start; n = losses.length − 1 steps), the best loss is the running maximum. Returns
 * the iterates after which a checkpoint ran, and those where the step halved.
 */
export function apgdScheduleTrace(losses: ArrayLike<number>, rho = 0.75): { checks: number[]; halved: number[] } {
  const n = losses.length - 1;
  const s = new ApgdSchedule(1, Math.max(n, 0), rho);
  const checks: number[] = [], halved: number[] = [];
  if (n < 0) return { checks, halved };
  s.start([losses[0]]);
  let best = losses[0];
  for (let t = 1; t <= n; t++) {
    if (losses[t] > best || Number.isNaN(best)) best = losses[t];
    const h = s.observe([losses[t]], [best]);
    if (h === null) continue;
    checks.push(t);
    if (h.length) halved.push(t);
  }
  return { checks, halved };
}

export class APGD implements Attack {
  readonly eps: number;
  readonly steps: number;
  /** Runs: the untargeted ones, then one per target rank (runAttack's restarts). */
  readonly restarts: number;
  readonly untargeted: number;
  readonly targets: number;
  readonly loss: ApgdLoss;
  readonly randomStart: boolean;
  readonly seed: number;
  readonly relStep: number;
  readonly momentum: number;
  readonly auxWidth = 0;

  constructor(opts: ApgdOptions, readonly threat: 'Linf' | 'L2', readonly name = `apgd-${threat.toLowerCase()}:${opts.eps}`) {
    if (threat !== 'Linf' && threat !== 'L2') throw new RangeError(`${name}: APGD takes threat 'Linf' or 'L2' (L1: l1apgd.ts), got '${threat}'`);
    this.eps = parseEps(opts.eps);
    this.steps = checkCount(`${name}: steps`, opts.steps, 100, 0);
    this.untargeted = checkCount(`${name}: restarts`, opts.restarts, 1, 0);
    this.targets = checkCount(`${name}: targets`, opts.targets, 0, 0);
    if (this.targets > 9) throw new RangeError(`${name}: targets must be at most 9 (the other classes), got ${this.targets}`);
    this.restarts = this.untargeted + this.targets;
    if (this.restarts < 1) throw new RangeError(`${name}: needs at least one run (restarts + targets ≥ 1)`);
    this.loss = opts.loss ?? 'ce';
    if (this.loss !== 'ce' && this.loss !== 'dlr' && this.loss !== 'margin') throw new RangeError(`${name}: loss must be 'ce', 'dlr' or 'margin', got '${this.loss}'`);
    this.randomStart = opts.randomStart ?? true;
    this.seed = checkCount(`${name}: seed`, opts.seed, 0, 0);
    this.relStep = opts.relStepSize ?? 2;
    if (!Number.isFinite(this.relStep) || this.relStep < 0) throw new RangeError(`${name}: relStepSize must be a finite number ≥ 0, got ${opts.relStepSize}`);
    this.momentum = opts.momentum ?? 0.75;
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new RangeError(`${name}: momentum must be in [0, 1], got ${opts.momentum}`);
  }

  cost(): { gradEvals: number; forwards: number } {
    return { gradEvals: this.steps, forwards: 1 };
  }

  runOnce(b: AttackBatch, track: WorstCase, restart: number, rows: Int32Array): { gradEvals: number; forwards: number } {
    const { engine, model, x0, y } = b;
    const B = x0.shape[0], D = x0.size / Math.max(B, 1);
    const targeted = restart >= this.untargeted;
    const loss: AttackLoss = targeted ? 'dlr-t' : this.loss;
    const seed = mixSeed(this.seed, restart, 0xa6d);
    engine.arena.scope(() => {
      let targets: Int32Array | undefined;
      if (targeted) {
        const logits0 = engine.arena.scope(() => logitsAt(model, x0));
        const rank = restart - this.untargeted + 1, K = logits0.length / Math.max(B, 1);
        if (rank > K - 1) throw new RangeError(`${this.name}: target rank ${rank} needs more than ${K} classes`);
        targets = rankedTargets(logits0, y, rank);
      }
      const x = Tensor.empty(engine, x0.shape);
      const xOld = engine.arena.allocF32(B * D), xBest = engine.arena.allocF32(B * D), gBest = engine.arena.allocF32(B * D);
      this.start(b, x, seed);
      engine.view(xOld).set(x.view());
      const eta = new Float64Array(B).fill(this.relStep * this.eps);
      const best = new Float64Array(B);
      const schedule = new ApgdSchedule(B, this.steps);
      const scratch = new Float64Array(D);
      for (let t = 0; t < this.steps; t++) {
        engine.arena.scope(() => {
          const { g, logits, values } = lossInputGrad(model, x, y, loss, targets);
          track.offer(x, logits, y, rows);
          const xv = x.view(), gv = g.view(), xb = engine.view(xBest), gb = engine.view(gBest);
          if (t === 0) {
            best.set(values);
            xb.set(xv);
            gb.set(gv);
            schedule.start(values);
          } else {
            for (let i = 0; i < B; i++) {
              if (values[i] > best[i] || (Number.isNaN(best[i]) && !Number.isNaN(values[i]))) {
                best[i] = values[i];
                xb.set(xv.subarray(i * D, (i + 1) * D), i * D);
                gb.set(gv.subarray(i * D, (i + 1) * D), i * D);
              }
            }
            const halve = schedule.observe(values, best);
            if (halve) {
              for (const i of halve) {
                eta[i] /= 2;
                xv.set(xb.subarray(i * D, (i + 1) * D), i * D);
                gv.set(gb.subarray(i * D, (i + 1) * D), i * D);
              }
            }
          }
          const a = t === 0 ? 1 : this.momentum;
          if (this.threat === 'Linf') linfMove(xv, engine.view(xOld), gv, x0.view(), eta, a, this.eps, B, D);
          else l2Move(xv, engine.view(xOld), gv, x0.view(), eta, a, this.eps, B, D, scratch);
        });
      }
      engine.arena.scope(() => track.offer(x, logitsAt(model, x), y, rows));
    });
    return { gradEvals: this.steps * B, forwards: (targeted ? 2 : 1) * B };
  }

  /** x ← the run's start (see the header). */
  private start(b: AttackBatch, x: Tensor, seed: number): void {
    const { engine, x0 } = b;
    const B = x0.shape[0], D = x0.size / Math.max(B, 1);
    if (!this.randomStart || this.eps === 0) {
      x.view().set(x0.view());
      return;
    }
    engine.arena.scope(() => {
      const d = engine.arena.allocF32(B * D);
      // L∞: u ~ U(−1, 1) (the kernel's draw at budget 1), scaled to max|δ| = ε; L2: the kernel's ε·z/‖z‖₂.
      randomStartIds(engine, this.threat === 'Linf' ? 'linf' : 'l2', d, epsBuffer(engine, this.threat === 'Linf' ? 1 : this.eps, B), D, b.ids, seed);
      const dv = engine.view(d), xv = x.view(), cv = x0.view();
      for (let i = 0; i < B; i++) {
        let f = 1;
        if (this.threat === 'Linf') {
          let m = 0;
          for (let j = i * D; j < (i + 1) * D; j++) m = Math.max(m, Math.abs(dv[j]));
          f = this.eps / (m + 1e-12);
        }
        for (let j = i * D; j < (i + 1) * D; j++) {
          const v = cv[j] + f * dv[j];
          xv[j] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
      }
    });
  }

  enforce(b: AttackBatch, track: WorstCase): void {
    enforceNorm(b, track, this.threat === 'Linf' ? linfThreat : l2Threat, this.eps);
  }

  settings(): Settings {
    return {
      ...runSettings(this),
      step: `${+this.relStep.toPrecision(6)}ε, momentum ${+this.momentum.toPrecision(6)}, APGD halving`,
      random_start: this.randomStart,
      seed: this.seed,
    };
  }
}

/** The runs of an APGD-family attack as settings: steps, untargeted restarts, targeted-DLR runs, loss. */
export function runSettings(a: { steps: number; untargeted: number; targets: number; loss: string }): Settings {
  return { steps: a.steps, restarts: a.untargeted, targets: a.targets, loss: a.loss, ...(a.targets > 0 ? { targeted_loss: 'dlr-t' } : {}) };
}

/**
 * One L∞ APGD move of every row, in place: x_prev ← x, x ← P(x + a·(P(x + η·sign g) − x) + (1 − a)·(x − x_prev)),
 * P the clamp to [max(x0 − ε, 0), min(x0 + ε, 1)].
 */
function linfMove(x: Float32Array, xOld: Float32Array, g: Float32Array, x0: Float32Array, eta: Float64Array, a: number, eps: number, B: number, D: number): void {
  const m = 1 - a;
  for (let i = 0; i < B; i++) {
    const s = eta[i];
    for (let j = i * D; j < (i + 1) * D; j++) {
      const c = x0[j], lo = c - eps > 0 ? c - eps : 0, hi = c + eps < 1 ? c + eps : 1;
      const cur = x[j], gj = g[j];
      let z = gj > 0 ? cur + s : gj < 0 ? cur - s : cur;
      z = z < lo ? lo : z > hi ? hi : z;
      let w = cur + (z - cur) * a + (cur - xOld[j]) * m;
      w = w < lo ? lo : w > hi ? hi : w;
      xOld[j] = cur;
      x[j] = w;
    }
  }
}

/**
 * One L2 APGD move of every row, in place: x_prev ← x, x ← P(x + a·(P(x + η·g/‖g‖) − x) + (1 − a)·(x − x_prev)),
 * P(v) = clip₀¹(x0 + (v − x0)·min(ε, ‖v − x0‖)/(‖v − x0‖ + 1e-12)). `scratch` holds one row (D).
 */
function l2Move(x: Float32Array, xOld: Float32Array, g: Float32Array, x0: Float32Array, eta: Float64Array, a: number, eps: number, B: number, D: number, scratch: Float64Array): void {
  const m = 1 - a;
  for (let i = 0; i < B; i++) {
    const o = i * D;
    let gg = 0;
    for (let j = 0; j < D; j++) gg += g[o + j] * g[o + j];
    const s = eta[i] / (Math.sqrt(gg) + 1e-12);
    // z = P(x + η·g/‖g‖): first δ = x + η·g/‖g‖ − x0 and its norm …
    let n1 = 0;
    for (let j = 0; j < D; j++) {
      const d = x[o + j] + s * g[o + j] - x0[o + j];
      scratch[j] = d;
      n1 += d * d;
    }
    n1 = Math.sqrt(n1);
    const f1 = Math.min(eps, n1) / (n1 + 1e-12);
    // … then the momentum point w and its δ …
    let n2 = 0;
    for (let j = 0; j < D; j++) {
      const c = x0[o + j], cur = x[o + j];
      let z = c + scratch[j] * f1;
      z = z < 0 ? 0 : z > 1 ? 1 : z;
      const d = cur + (z - cur) * a + (cur - xOld[o + j]) * m - c;
      scratch[j] = d;
      n2 += d * d;
    }
    n2 = Math.sqrt(n2);
    const f2 = Math.min(eps, n2) / (n2 + 1e-12);
    // … and its projection.
    for (let j = 0; j < D; j++) {
      let v = x0[o + j] + scratch[j] * f2;
      v = v < 0 ? 0 : v > 1 ? 1 : v;
      xOld[o + j] = x[o + j];
      x[o + j] = v;
    }
  }
}

/** The options of the APGD kinds; `restartsCli`: the CLI's --restarts sets the untargeted runs. */
function apgdOptions(restarts: string, targets: string, restartsCli: boolean): OptionSpec[] {
  const help = 'untargeted runs, each from a new random start (may be 0 when targets ≥ 1)';
  return [
    stepsOption('100', 'iterations per run'),
    restartsCli ? { ...restartsOption(restarts, help), min: 0 } : { key: 'restarts', type: 'int', min: 0, default: restarts, help },
    { key: 'targets', type: 'int', min: 0, max: 9, default: targets, help: 'targeted-DLR runs after the untargeted ones, towards the classes ranked 1…n at x0' },
    { key: 'loss', type: 'enum', values: ['ce', 'dlr', 'margin'], default: 'ce', help: 'loss of the untargeted runs' },
    { key: 'randomstart', field: 'randomStart', type: 'bool', default: 'true', help: 'start each run from a random point of the ball' },
    { key: 'relstep', field: 'relStepSize', type: 'number', min: 0, default: '2', help: 'initial step size as a multiple of ε (halved by the APGD schedule)' },
    { key: 'momentum', type: 'number', min: 0, max: 1, default: '0.75', help: 'weight of the previous move in each step (the first step has none)' },
    SEED_OPTION,
  ];
}

/** The parsed options over a kind's own defaults (options the token leaves out are absent or undefined). */
export function over(defaults: Record<string, unknown>, o: Record<string, unknown>): Record<string, unknown> {
  const out = { ...defaults };
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

/** Token kinds of APGD (parse.ts): APGD-CE and APGD-T for L∞ and L2 (the L1 ones: l1apgd.ts). */
export const APGD_KINDS: KindSpec[] = [
  { kind: 'apgd-linf', summary: "AutoAttack's APGD-CE in the L∞ ball (adaptive step, momentum)", positional: 'eps', options: apgdOptions('1', '0', true), build: (o, t) => new APGD(o as unknown as ApgdOptions, 'Linf', t) },
  { kind: 'apgd-l2', summary: "AutoAttack's APGD-CE in the L2 ball (adaptive step, momentum)", positional: 'eps', options: apgdOptions('1', '0', true), build: (o, t) => new APGD(o as unknown as ApgdOptions, 'L2', t) },
  { kind: 'apgdt-linf', summary: "AutoAttack's APGD-T in the L∞ ball: targeted DLR towards the 9 most likely other classes", positional: 'eps', options: apgdOptions('0', '9', false), build: (o, t) => new APGD(over({ restarts: 0, targets: 9 }, o) as unknown as ApgdOptions, 'Linf', t) },
  { kind: 'apgdt-l2', summary: "AutoAttack's APGD-T in the L2 ball: targeted DLR towards the 9 most likely other classes", positional: 'eps', options: apgdOptions('0', '9', false), build: (o, t) => new APGD(over({ restarts: 0, targets: 9 }, o) as unknown as ApgdOptions, 'L2', t) },
];
