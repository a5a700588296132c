// Rotation-translation (RT) attacks (paper.md §1.5): the adversary picks, per example, a rotation
// θ and a translation (tx, ty) in a box, |tx|, |ty| ≤ px pixels, |θ| ≤ deg degrees; the image is
// resampled bilinearly with zero fill (assembly/bilinear.ts; content moves by +tx, +ty).
//   RTGrid   every transform of a grid (default 5 × 5 × 31 = 775 over ±3 px, ±30°: the reference's
//            exhaustive evaluation), worst case per example. Gradient-free.
//   RTRandom k uniform draws in the box per example (the reference's training attack, k = 10).
//   RTPGD    first-order: sign-gradient ascent on u = (θ, tx, ty)/limits ∈ [−1, 1]³ through the
//            spatial op's parameter gradient, projected (clipped) onto the box, random starts.
//            None of the reference tools has it (compare it with the grid: test/attacks).
// Candidates are evaluated as batches of (example, transform) pairs: with `earlyStop` an example
// leaves as soon as one transform fools the model, and the remaining examples fill the batch with
// more of their transforms, so the grid costs ≪ 775 forwards per example on a non-robust model.
// aux per example: (θ radians, tx, ty) of the chosen transform; enforce() recomputes the image
// from x0 and those parameters clamped into the box, so the result is an exact RT image.
import { grad } from '../autograd.ts';
import { spatialForward } from '../kernels/spatial.ts';
import { Rng } from '../nn/init.ts';
import { marginLoss, softmaxCrossEntropy, spatialTransform, sum } from '../ops/index.ts';
import { Tensor } from '../tensor.ts';
import { checkCount, checkLoss, type Attack } from './attack.ts';
import { gatherRows, logitsAt, mixSeed, type AttackBatch, type LossName, type WorstCase } from './core.ts';
import { restartsOption, SEED_OPTION, stepsOption, type KindSpec, type OptionSpec, type Settings } from './schema.ts';

export interface RTLimits {
  /** Max |tx| and |ty| in pixels (default 3). */
  px?: number;
  /** Max |θ| in degrees (default 30). */
  deg?: number;
}

export interface RTGridOptions extends RTLimits {
  /** Points per axis (tx, ty, θ), default [5, 5, 31]. */
  grid?: [number, number, number];
  /** Candidate images per forward pass (default 100). */
  batch?: number;
}

/** Radians per degree. */
export const DEG = Math.PI / 180;

function limitsOf(name: string, o: RTLimits): { px: number; deg: number } {
  const px = o.px ?? 3, deg = o.deg ?? 30;
  if (!Number.isFinite(px) || px < 0) throw new RangeError(`${name}: the translation limit must be a number ≥ 0 pixels, got ${o.px}`);
  if (!Number.isFinite(deg) || deg < 0 || deg > 180) throw new RangeError(`${name}: the rotation limit must be in [0, 180] degrees, got ${o.deg}`);
  return { px, deg };
}

function linspace(lo: number, hi: number, n: number): number[] {
  return n === 1 ? [(lo + hi) / 2] : Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

/** Base of the RT attacks: the box, and enforcement by recomputing the transformed image. */
abstract class RTAttack implements Attack {
  readonly threat = 'RT';
  readonly eps = null;
  readonly auxWidth = 3;
  readonly px: number;
  readonly deg: number;
  abstract readonly restarts: number;

  constructor(readonly name: string, limits: RTLimits, readonly chunk: number) {
    ({ px: this.px, deg: this.deg } = limitsOf(name, limits));
    checkCount(`${name}: batch`, chunk, 100);
  }

  abstract cost(): { gradEvals: number; forwards: number };
  abstract settings(): Settings;
  abstract runOnce(b: AttackBatch, track: WorstCase, restart: number, rows: Int32Array): void | { gradEvals: number; forwards: number };

  /** Clamps (θ, tx, ty) rows into the box (in place). */
  clampParams(p: Float32Array): void {
    for (let i = 0; i < p.length; i += 3) {
      p[i] = Math.min(this.deg * DEG, Math.max(-this.deg * DEG, p[i]));
      p[i + 1] = Math.min(this.px, Math.max(-this.px, p[i + 1]));
      p[i + 2] = Math.min(this.px, Math.max(-this.px, p[i + 2]));
    }
  }

  enforce(b: AttackBatch, track: WorstCase): void {
    const [B, h, w, c] = b.x0.shape;
    this.clampParams(track.aux);
    b.engine.arena.scope(() => {
      spatialForward(b.engine, { batch: B, h, w, c, params: b.engine.fromF32(track.aux), x: b.x0.buf, y: track.adv.buf });
    });
  }

  /**
   * Evaluates, per example i of b, the transforms `transforms(i)` (3 floats each), as batches of
   * (example, transform) pairs; offers each to the tracker. With earlyStop an example stops at its
   * first success.
   */
  protected search(b: AttackBatch, track: WorstCase, rows: Int32Array, transforms: (i: number) => Float32Array): { gradEvals: number; forwards: number } {
    const { engine, model, x0, y } = b;
    const [B, h, w, c] = x0.shape;
    const lists = Array.from({ length: B }, (_, i) => transforms(i));
    const next = new Int32Array(B);
    const earlyStop = b.earlyStop ?? true;
    const done = (i: number) => next[i] >= lists[i].length / 3 || (earlyStop && track.wrong[rows[i]] === 1);
    let active = Array.from({ length: B }, (_, i) => i).filter((i) => !done(i));
    let forwards = 0;
    while (active.length) {
      const per = Math.max(1, Math.ceil(this.chunk / active.length));
      const ex: number[] = [], ps: number[] = [];
      for (const i of active) {
        for (let k = 0; k < per && next[i] < lists[i].length / 3; k++, next[i]++) {
          ex.push(i);
          ps.push(...lists[i].subarray(3 * next[i], 3 * next[i] + 3));
        }
      }
      engine.arena.scope(() => {
        const n = ex.length, params = Float32Array.from(ps);
        const src = gatherRows(x0, Int32Array.from(ex));
        const out = Tensor.empty(engine, [n, h, w, c]);
        spatialForward(engine, { batch: n, h, w, c, params: engine.fromF32(params), x: src.buf, y: out.buf });
        const labels = Int32Array.from(ex, (i) => y[i]);
        track.offer(out, logitsAt(model, out), labels, Int32Array.from(ex, (i) => rows[i]), params);
      });
      forwards += ex.length;
      active = active.filter((i) => !done(i));
    }
    return { gradEvals: 0, forwards };
  }
}

/** Exhaustive grid search over the RT box (the reference's evaluation: 775 transforms). */
export class RTGrid extends RTAttack {
  readonly restarts = 1;
  readonly transforms: Float32Array;
  readonly grid: [number, number, number];

  constructor(opts: RTGridOptions = {}, name = `rt:${opts.px ?? 3}:${opts.deg ?? 30}`) {
    super(name, opts, opts.batch ?? 100);
    const [nx, ny, nt] = opts.grid ?? [5, 5, 31];
    this.grid = [nx, ny, nt];
    for (const n of [nx, ny, nt]) checkCount(`${name}: grid points per axis`, n, 1);
    const list: number[] = [];
    for (const tx of linspace(-this.px, this.px, nx)) for (const ty of linspace(-this.px, this.px, ny)) for (const th of linspace(-this.deg, this.deg, nt)) list.push(th * DEG, tx, ty);
    this.transforms = Float32Array.from(list);
  }

  cost(): { gradEvals: number; forwards: number } {
    return { gradEvals: 0, forwards: this.transforms.length / 3 };
  }

  runOnce(b: AttackBatch, track: WorstCase, _restart: number, rows: Int32Array): { gradEvals: number; forwards: number } {
    return this.search(b, track, rows, () => this.transforms);
  }

  settings(): Settings {
    return { px: this.px, deg: this.deg, grid: this.grid.join('x'), transforms: this.transforms.length / 3 };
  }
}

export interface RTRandomOptions extends RTLimits {
  /** Draws per example (default 10). */
  tries?: number;
  restarts?: number;
  seed?: number;
  batch?: number;
}

/** k uniform random transforms per example, keyed by (seed, restart, example id). */
export class RTRandom extends RTAttack {
  readonly restarts: number;
  readonly tries: number;
  readonly seed: number;

  constructor(opts: RTRandomOptions = {}, name = `rtrandom:${opts.px ?? 3}:${opts.deg ?? 30}`) {
    super(name, opts, opts.batch ?? 100);
    this.tries = checkCount(`${name}: tries`, opts.tries, 10);
    this.restarts = checkCount(`${name}: restarts`, opts.restarts, 1);
    this.seed = checkCount(`${name}: seed`, opts.seed, 0, 0);
  }

  cost(): { gradEvals: number; forwards: number } {
    return { gradEvals: 0, forwards: this.tries };
  }

  settings(): Settings {
    return { px: this.px, deg: this.deg, tries: this.tries, restarts: this.restarts, seed: this.seed };
  }

  runOnce(b: AttackBatch, track: WorstCase, restart: number, rows: Int32Array): { gradEvals: number; forwards: number } {
    return this.search(b, track, rows, (i) => {
      const rng = new Rng(mixSeed(this.seed, restart, b.ids[i], 0x52));
      const t = new Float32Array(3 * this.tries);
      for (let k = 0; k < this.tries; k++) {
        t[3 * k] = rng.uniform(-this.deg, this.deg) * DEG;
        t[3 * k + 1] = rng.uniform(-this.px, this.px);
        t[3 * k + 2] = rng.uniform(-this.px, this.px);
      }
      return t;
    });
  }
}

export interface RTPGDOptions extends RTLimits {
  steps?: number;
  /** Step in the normalised box [−1, 1]³ (default 2.5/steps, as L∞ PGD). */
  relStepSize?: number;
  restarts?: number;
  loss?: LossName;
  seed?: number;
}

/** First-order RT attack: PGD with sign steps on the normalised (θ, tx, ty), random starts in the box. */
export class RTPGD extends RTAttack {
  readonly restarts: number;
  readonly steps: number;
  readonly step: number;
  readonly loss: LossName;
  readonly seed: number;

  constructor(opts: RTPGDOptions = {}, name = `rtpgd:${opts.px ?? 3}:${opts.deg ?? 30}`) {
    super(name, opts, 100);
    this.steps = checkCount(`${name}: steps`, opts.steps, 20, 0);
    this.restarts = checkCount(`${name}: restarts`, opts.restarts, 10);
    this.step = opts.relStepSize ?? 2.5 / Math.max(1, this.steps);
    if (!(this.step > 0) || !Number.isFinite(this.step)) throw new RangeError(`${name}: relStepSize must be > 0, got ${opts.relStepSize}`);
    this.loss = checkLoss(name, opts.loss ?? 'margin');
    this.seed = checkCount(`${name}: seed`, opts.seed, 0, 0);
  }

  cost(): { gradEvals: number; forwards: number } {
    return { gradEvals: this.steps, forwards: 1 };
  }

  settings(): Settings {
    return { px: this.px, deg: this.deg, steps: this.steps, restarts: this.restarts, relstep: +this.step.toPrecision(6), loss: this.loss, seed: this.seed };
  }

  runOnce(b: AttackBatch, track: WorstCase, restart: number, rows: Int32Array): void {
    const { engine, model, x0, y } = b;
    const [B, h, w, c] = x0.shape;
    const scale = [this.deg * DEG, this.px, this.px];
    // u ∈ [−1, 1]³ per example; restart r starts at a keyed uniform draw.
    const u = new Float32Array(3 * B);
    for (let i = 0; i < B; i++) {
      const rng = new Rng(mixSeed(this.seed, restart, b.ids[i], 0x50));
      for (let k = 0; k < 3; k++) u[3 * i + k] = rng.uniform(-1, 1);
    }
    const paramsOf = () => Float32Array.from(u, (v, j) => v * scale[j % 3]);
    for (let t = 0; t <= this.steps; t++) {
      engine.arena.scope(() => {
        const params = Tensor.from(engine, paramsOf(), [B, 3]);
        if (t === this.steps) {
          const img = Tensor.empty(engine, [B, h, w, c]);
          spatialForward(engine, { batch: B, h, w, c, params: params.buf, x: x0.buf, y: img.buf });
          track.offer(img, logitsAt(model, img), y, rows, params.view());
          return;
        }
        let img: Tensor | null = null, logits: Tensor | null = null;
        const [gp] = grad(() => {
          img = spatialTransform(x0, params);
          logits = model.call(img);
          return sum(this.loss === 'ce' ? softmaxCrossEntropy(logits, y) : marginLoss(logits, y));
        }, [params]);
        track.offer(img!, logits!.toArray(), y, rows, params.toArray());
        const g = gp.view();
        for (let j = 0; j < u.length; j++) u[j] = Math.min(1, Math.max(-1, u[j] + this.step * Math.sign(g[j])));
      });
    }
  }
}

const BATCH_OPTION: OptionSpec = { key: 'batch', type: 'int', min: 1, default: '100', help: 'candidate images per forward pass' };

/** Token kinds of the RT attacks (parse.ts): kind, or kind:PX:DEG (default ±3 px, ±30°). */
export const RT_KINDS: KindSpec[] = [
  {
    kind: 'rt', summary: "exhaustive grid over the RT box (the reference's 775 transforms)", positional: 'rt',
    options: [{ key: 'grid', type: 'grid', default: '5x5x31', help: 'points per axis (tx, ty, θ)' }, BATCH_OPTION],
    build: (o, t) => new RTGrid(o as RTGridOptions, t),
  },
  {
    kind: 'rtrandom', summary: 'uniform random transforms in the RT box (the reference\'s training attack)', positional: 'rt',
    options: [{ key: 'tries', type: 'int', min: 1, default: '10', help: 'draws per example and restart' }, { ...restartsOption('1'), cli: undefined }, SEED_OPTION, BATCH_OPTION],
    build: (o, t) => new RTRandom(o as RTRandomOptions, t),
  },
  {
    kind: 'rtpgd', summary: 'first-order RT attack: sign steps on (θ, tx, ty) through the bilinear kernel', positional: 'rt',
    options: [
      stepsOption('20'), restartsOption('10'),
      { key: 'relstep', field: 'relStepSize', type: 'number', min: 0, default: '2.5/steps', help: 'step in the normalised box [−1, 1]³' },
      { key: 'loss', type: 'enum', values: ['margin', 'ce'], default: 'margin', help: 'loss the steps ascend' },
      SEED_OPTION,
    ],
    build: (o, t) => new RTPGD(o as RTPGDOptions, t),
  },
];
