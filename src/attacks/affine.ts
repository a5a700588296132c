// Affine attacks (Tramèr & Boneh; paper.md §1.5): the adversary mixes K perturbation types with
// weights w on the simplex (β and 1 − β for two), each type's budget scaled by its weight, and the
// perturbations summed: x = clip(x0 + Σ_k δ_k) with ‖δ_k‖ ≤ w_k·ε_k.
//   weights: `beta` fixed (two types: w = (β, 1 − β)), or 'random' (default, the reference's): per
//            example uniform on the simplex (normalised −log U), drawn per restart.
//   norm parts (linf, l2, l1 tokens): one δ per part, updated round-robin: iteration t takes the
//            gradient at x and steps part t mod K with its own direction rule; each part is
//            projected onto its scaled ball (no box: the final clip keeps x in [0, 1], and a
//            coordinate-wise clip only shrinks each part, so every part stays in its ball).
//            Steps of L∞/L2 parts scale with w (their default is relative to ε); SLIDE's does not
//            (as the reference). Total gradient evaluations: K_norm·steps.
//   an RT part (listed first): its limits scaled by w_RT per example; its transforms (grid or
//            random draws) are searched in the outer loop and the norm parts run on each
//            transformed image T(x0) (cost: transforms × K_norm·steps).
// aux per example: [w (K), θ, tx, ty, δ_1 (D), …, δ_K (D)]; enforce() re-projects every part onto
// its scaled ball and rebuilds x = clip(T(x0) + Σδ), so a report never rests on the attack's word.
import { projL1, projL2, projLinf } from '../kernels/proj.ts';
import { spatialForward } from '../kernels/spatial.ts';
import { Rng } from '../nn/init.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { checkCount, type Attack } from './attack.ts';
import type { Settings } from './schema.ts';
import { epsBuffer, logitsAt, lossGrad, mixSeed, randomStartIds, type AttackBatch, type LossName, type WorstCase } from './core.ts';
import { NormPGD, SLIDE, stepRows } from './pgd.ts';
import { DEG, RTGrid, RTRandom } from './spatial.ts';

export interface AffineOptions {
  /** Weight of the first part (two parts), or 'random' per example (default). */
  beta?: number | 'random';
  steps?: number;
  restarts?: number;
  seed?: number;
  loss?: LossName;
}


/** Projects rows of δ onto the ball of `threat` with per-example radii (no box). */
function ballProject(engine: Engine, threat: 'Linf' | 'L2' | 'L1', delta: F32Buf, eps: F32Buf, batch: number, dim: number): void {
  const args = { batch, dim, delta, eps, x0: null };
  if (threat === 'Linf') projLinf(engine, args);
  else if (threat === 'L2') projL2(engine, args);
  else projL1(engine, args);
}

export class Affine implements Attack {
  readonly threat = 'affine';
  readonly eps = null;
  readonly norms: NormPGD[];
  readonly rt: RTGrid | RTRandom | null;
  readonly restarts: number;
  readonly steps: number;
  readonly seed: number;
  readonly loss: LossName;
  readonly beta: number | 'random';
  readonly K: number;
  private dim = 0;

  constructor(parts: Attack[], opts: AffineOptions, readonly name = `affine(${parts.map((p) => p.name).join('+')})`) {
    const rt = parts.filter((p) => p.threat === 'RT');
    if (rt.length > 1 || (rt.length === 1 && parts[0].threat !== 'RT')) throw new RangeError(`${name}: at most one rotation-translation part, listed first`);
    if (rt.length && !(rt[0] instanceof RTGrid || rt[0] instanceof RTRandom)) throw new RangeError(`${name}: the RT part must be a grid (rt) or random search (rtrandom)`);
    this.rt = (rt[0] as RTGrid | RTRandom | undefined) ?? null;
    this.norms = parts.filter((p) => p.threat !== 'RT').map((p) => {
      if (!(p instanceof NormPGD)) throw new RangeError(`${name}: parts must be linf, l2, l1 (SLIDE) or rt tokens, got '${p.name}'`);
      return p;
    });
    if (!this.norms.length) throw new RangeError(`${name}: needs at least one linf, l2 or l1 part`);
    this.K = parts.length;
    if (this.K < 2) throw new RangeError(`${name}: needs at least two parts`);
    this.beta = opts.beta ?? 'random';
    if (this.beta !== 'random' && !(typeof this.beta === 'number' && this.beta >= 0 && this.beta <= 1 && this.K === 2)) {
      throw new RangeError(`${name}: beta must be 'random' or a number in [0, 1] (two parts only), got ${opts.beta}`);
    }
    this.steps = checkCount(`${name}: steps`, opts.steps, this.norms[0].steps, 0);
    this.restarts = checkCount(`${name}: restarts`, opts.restarts, 1);
    this.seed = checkCount(`${name}: seed`, opts.seed, 0, 0);
    this.loss = opts.loss ?? 'margin';
  }

  settings(): Settings {
    return { parts: [...(this.rt ? [this.rt] : []), ...this.norms].map((p) => p.name).join('+'), beta: this.beta, steps: this.steps, restarts: this.restarts, loss: this.loss, seed: this.seed };
  }

  get auxWidth(): number {
    return this.K + 3 + this.norms.length * this.dim;
  }

  cost(dim: number): { gradEvals: number; forwards: number } {
    this.dim = dim;
    const outer = this.rt ? this.rt.cost().forwards : 1;
    return { gradEvals: outer * this.norms.length * this.steps, forwards: outer };
  }

  /** Per-example weights (B × K), keyed by (seed, restart, id). */
  private weights(ids: Int32Array, restart: number): Float32Array {
    const w = new Float32Array(ids.length * this.K);
    for (let i = 0; i < ids.length; i++) {
      if (this.beta !== 'random') {
        w[2 * i] = this.beta;
        w[2 * i + 1] = 1 - this.beta;
        continue;
      }
      const rng = new Rng(mixSeed(this.seed, restart, ids[i], 0xaf));
      let total = 0;
      for (let k = 0; k < this.K; k++) total += (w[i * this.K + k] = -Math.log(1 - rng.next()));
      for (let k = 0; k < this.K; k++) w[i * this.K + k] /= total;
    }
    return w;
  }

  runOnce(b: AttackBatch, track: WorstCase, restart: number, rows: Int32Array): void {
    const B = b.x0.shape[0];
    const w = this.weights(b.ids, restart);
    const transforms = this.rt ? this.rtTransforms(b, w, restart) : [new Float32Array(3 * B)];
    for (const params of transforms) {
      b.engine.arena.scope(() => this.normParts(b, track, rows, w, params, restart));
    }
  }

  /** The RT candidates, each (B × 3), with limits scaled by each example's RT weight. */
  private rtTransforms(b: AttackBatch, w: Float32Array, restart: number): Float32Array[] {
    const rt = this.rt!, B = b.x0.shape[0];
    const base: Float32Array[] = [];
    if (rt instanceof RTGrid) for (let j = 0; j < rt.transforms.length; j += 3) base.push(rt.transforms.subarray(j, j + 3));
    else {
      for (let t = 0; t < rt.tries; t++) base.push(new Float32Array(3));
    }
    return base.map((t, j) => {
      const p = new Float32Array(3 * B);
      for (let i = 0; i < B; i++) {
        const s = w[i * this.K];
        if (rt instanceof RTRandom) {
          const rng = new Rng(mixSeed(this.seed, restart, b.ids[i], j, 0x52));
          t = Float32Array.of(rng.uniform(-rt.deg, rt.deg) * DEG, rng.uniform(-rt.px, rt.px), rng.uniform(-rt.px, rt.px));
        }
        p[3 * i] = t[0] * s;
        p[3 * i + 1] = t[1] * s;
        p[3 * i + 2] = t[2] * s;
      }
      return p;
    });
  }

  /** Round-robin PGD over the norm parts, around T(x0) for the given RT parameters (B × 3). */
  private normParts(b: AttackBatch, track: WorstCase, rows: Int32Array, w: Float32Array, params: Float32Array, restart: number): void {
    const { engine, model, y } = b;
    const [B, h, wd, c] = b.x0.shape;
    const D = h * wd * c, P = this.norms.length, off = this.rt ? 1 : 0;
    const base = Tensor.empty(engine, b.x0.shape);
    spatialForward(engine, { batch: B, h, w: wd, c, params: engine.fromF32(params), x: b.x0.buf, y: base.buf });
    const eps = this.norms.map((p, k) => epsBuffer(engine, Float32Array.from({ length: B }, (_, i) => p.eps * w[i * this.K + k + off]), B));
    const steps = this.norms.map((p, k) => (p instanceof SLIDE ? p.stepSize : Float32Array.from({ length: B }, (_, i) => p.stepSize * w[i * this.K + k + off])));
    const deltas = this.norms.map(() => engine.arena.allocF32(B * D));
    const dir = engine.arena.allocF32(B * D);
    const hooks = this.norms.map((p) => p.hooks(mixSeed(this.seed, restart)));
    this.norms.forEach((p, k) => {
      if (p.randomStart) randomStartIds(engine, hooks[k].start, deltas[k], eps[k], D, b.ids, mixSeed(this.seed, restart, k));
      else engine.view(deltas[k]).fill(0);
      ballProject(engine, p.threat, deltas[k], eps[k], B, D);
    });
    const point = (): Tensor => {
      const x = Tensor.empty(engine, b.x0.shape);
      const xv = x.view(), bv = base.view(), ds = deltas.map((d) => engine.view(d));
      for (let j = 0; j < xv.length; j++) {
        let v = bv[j];
        for (const d of ds) v += d[j];
        xv[j] = Math.min(1, Math.max(0, v));
      }
      return x;
    };
    const aux = (): Float32Array => {
      const a = new Float32Array(B * this.auxWidth), ds = deltas.map((d) => engine.view(d));
      for (let i = 0; i < B; i++) {
        const o = i * this.auxWidth;
        a.set(w.subarray(i * this.K, (i + 1) * this.K), o);
        a.set(params.subarray(3 * i, 3 * i + 3), o + this.K);
        ds.forEach((d, k) => a.set(d.subarray(i * D, (i + 1) * D), o + this.K + 3 + k * D));
      }
      return a;
    };
    for (let t = 0; t < P * this.steps; t++) {
      engine.arena.scope(() => {
        const x = point();
        const { g, logits } = lossGrad(model, x, y, this.loss);
        track.offer(x, logits, y, rows, aux());
        const k = t % P;
        hooks[k].direction(engine, g.buf, x.buf, dir, B, D);
        stepRows(engine, deltas[k], dir, steps[k], B, D);
        ballProject(engine, this.norms[k].threat, deltas[k], eps[k], B, D);
      });
    }
    engine.arena.scope(() => {
      const x = point();
      track.offer(x, logitsAt(model, x), y, rows, aux());
    });
  }

  enforce(b: AttackBatch, track: WorstCase): void {
    const { engine } = b;
    const [B, h, wd, c] = b.x0.shape;
    const D = h * wd * c, W = this.auxWidth, off = this.rt ? 1 : 0;
    engine.arena.scope(() => {
      const params = new Float32Array(3 * B);
      for (let i = 0; i < B; i++) {
        const o = i * W, s = this.rt ? track.aux[o] : 0;
        // An untouched row (no candidate offered) has w = 0: the clean point.
        params[3 * i] = Math.max(-s * (this.rt?.deg ?? 0) * DEG, Math.min(s * (this.rt?.deg ?? 0) * DEG, track.aux[o + this.K]));
        params[3 * i + 1] = Math.max(-s * (this.rt?.px ?? 0), Math.min(s * (this.rt?.px ?? 0), track.aux[o + this.K + 1]));
        params[3 * i + 2] = Math.max(-s * (this.rt?.px ?? 0), Math.min(s * (this.rt?.px ?? 0), track.aux[o + this.K + 2]));
        track.aux.set(params.subarray(3 * i, 3 * i + 3), o + this.K);
      }
      const base = Tensor.empty(engine, b.x0.shape);
      spatialForward(engine, { batch: B, h, w: wd, c, params: engine.fromF32(params), x: b.x0.buf, y: base.buf });
      const sum = base.toArray();
      this.norms.forEach((p, k) => {
        const d = engine.arena.allocF32(B * D), dv = engine.view(d);
        for (let i = 0; i < B; i++) dv.set(track.aux.subarray(i * W + this.K + 3 + k * D, i * W + this.K + 3 + (k + 1) * D), i * D);
        const eps = epsBuffer(engine, Float32Array.from({ length: B }, (_, i) => p.eps * Math.max(0, track.aux[i * W + k + off])), B);
        ballProject(engine, p.threat, d, eps, B, D);
        const dv2 = engine.view(d);
        for (let i = 0; i < B; i++) track.aux.set(dv2.subarray(i * D, (i + 1) * D), i * W + this.K + 3 + k * D);
        for (let j = 0; j < sum.length; j++) sum[j] += dv2[j];
      });
      const adv = track.adv.view();
      for (let j = 0; j < adv.length; j++) adv[j] = Math.min(1, Math.max(0, sum[j]));
    });
  }
}
