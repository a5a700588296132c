// Multi-perturbation training strategies (paper.md §A, §1.4, §4.1, §4.2): given one clean batch,
// what the model trains on.
//
//   none       the clean batch (standard training)
//   single     one threat model's adversarial batch (Adv∞, Adv2, Adv1, AdvRT)
//   avg        every attack's adversarial batch, concatenated (K·B rows; the reference's default)
//   max        per example, the attack whose output has the highest cross-entropy (B rows)
//   alternate  attack (global step mod K) for the whole batch
//   msd        multi steepest descent (Maini et al.): one input gradient per iteration, one
//              candidate step per norm from it, per example the candidate with the highest
//              cross-entropy continues; the worst point over all iterations is kept. Zero start.
//   sampled    one threat model per batch, drawn with probability ∝ 1 − its running robust
//              accuracy on the training batches so far (E-AT, Croce & Hein); uniform at first.
//
// Shapes: x0 and every adversarial batch (B, H, W, C) NHWC in [0, 1]; y, ids (B). Everything
// returned lives in the caller's arena scope. Threading: the kernels' (the engine's pool).
// Randomness: attack random starts are keyed by (attack seed, ids) (src/attacks/core.ts); the
// caller passes ids that differ at every step. `sampled` draws from the Rng it is given.
import { runAttack, type Attack } from '../attacks/attack.ts';
import { addDelta, epsBuffer, logitsAt, lossGrad, scoreLogits, WorstCase, type Classifier } from '../attacks/core.ts';
import { parseEps } from '../attacks/attack.ts';
import { splitAffine } from '../attacks/parse.ts';
import { NormPGD, stepRows, type NormThreat } from '../attacks/pgd.ts';
import type { Rng } from '../nn/init.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';

export const STRATEGIES = ['none', 'single', 'avg', 'max', 'alternate', 'msd', 'sampled'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** What one batch trains on, and what the attacks cost. */
export interface TrainBatch {
  /** The inputs of the parameter update: (B, …), or (K·B, …) for avg. */
  x: Tensor;
  y: Int32Array;
  /** Adversarial accuracy on the batch (1 = correct after the attack), over `x`'s rows; null for none. */
  advCorrect: number | null;
  /** Rows `advCorrect` counts. */
  advRows: number;
  /** Index of the attack that made each training row (−1 = clean), for tests and statistics. */
  source: Int32Array;
  /** Input-gradient evaluations and gradient-free forwards of the attacks, summed over examples. */
  gradEvals: number;
  forwards: number;
}

/** The running robust accuracy `sampled` draws from: correct and seen counts per attack. */
export interface SamplerState {
  correct: number[];
  seen: number[];
}

export function newSamplerState(k: number): SamplerState {
  return { correct: new Array(k).fill(0), seen: new Array(k).fill(0) };
}

/** Probabilities ∝ 1 − running robust accuracy (0 before any batch); uniform if they all vanish. */
export function samplingProbabilities(s: SamplerState): number[] {
  const w = s.correct.map((c, k) => 1 - (s.seen[k] > 0 ? c / s.seen[k] : 0));
  const total = w.reduce((a, b) => a + b, 0);
  return total > 0 ? w.map((v) => v / total) : w.map(() => 1 / w.length);
}

/** Draws an attack index with samplingProbabilities(s), one uniform draw from rng. */
export function sampleAttack(s: SamplerState, rng: Rng): number {
  const p = samplingProbabilities(s);
  const u = rng.next();
  let acc = 0;
  for (let k = 0; k < p.length; k++) {
    acc += p[k];
    if (u < acc) return k;
  }
  return p.length - 1;
}

/** Per example, the index of the largest cross-entropy over the attacks' outputs (first wins ties; NaN never wins). */
export function argmaxCe(ces: Float64Array[]): Int32Array {
  const B = ces[0].length, pick = new Int32Array(B);
  for (let i = 0; i < B; i++) {
    let best = -Infinity;
    for (let k = 0; k < ces.length; k++) {
      if (ces[k][i] > best) {
        best = ces[k][i];
        pick[i] = k;
      }
    }
  }
  return pick;
}

/** Examples still classified correctly: the rows a scoring left not wrong. */
export function countCorrect(wrong: Uint8Array): number {
  let c = 0;
  for (const w of wrong) if (!w) c++;
  return c;
}

/** The norm hooks, budget, step size and steps MSD takes from a training attack (L∞, L2, SLIDE only). */
interface MsdNorm {
  hooks: NormThreat;
  eps: number;
  step: number;
  steps: number;
}

function msdNorm(a: Attack): MsdNorm {
  if (!(a instanceof NormPGD)) throw new RangeError(`strategy msd: attack '${a.name}' is not a norm attack (msd takes linf, l2 and l1 tokens)`);
  // NOTE: a SLIDE percentile range (perc=lo-hi) is drawn once, from seed 0.
  return { hooks: a.hooks(0), eps: a.eps, step: a.stepSize, steps: a.steps };
}

/** Checks that the attacks suit the strategy; throws RangeError naming the problem. */
export function checkStrategy(strategy: Strategy, attacks: Attack[]): void {
  if (!(STRATEGIES as readonly string[]).includes(strategy)) throw new RangeError(`unknown strategy '${strategy}' (one of ${STRATEGIES.join(', ')})`);
  if (strategy === 'none' && attacks.length) throw new RangeError('strategy none trains on clean data: give no attacks');
  if (strategy !== 'none' && !attacks.length) throw new RangeError(`strategy ${strategy} needs at least one attack`);
  if (strategy === 'single' && attacks.length !== 1) throw new RangeError(`strategy single takes exactly one attack, got ${attacks.length}`);
  if (strategy === 'msd') attacks.forEach(msdNorm);
}

/**
 * MSD: `steps` = the largest of the attacks' steps; each iteration one gradient of the CE loss at
 * x0 + δ, then for each norm k the candidate P_k(δ + a_k·dir_k(g)); per example the candidate
 * with the highest CE becomes δ. Every iterate and candidate is offered to the worst-case tracker
 * (misclassified first, then CE), whose points are returned.
 */
export function msdAttack(engine: Engine, model: Classifier, x0: Tensor, y: Int32Array, attacks: Attack[]): { track: WorstCase; gradEvals: number; forwards: number } {
  const norms = attacks.map(msdNorm);
  const B = x0.shape[0], D = x0.size / B;
  const steps = Math.max(...norms.map((n) => n.steps));
  const track = new WorstCase(x0);
  engine.arena.scope(() => {
    const delta = engine.arena.allocF32(B * D), dir = engine.arena.allocF32(B * D);
    engine.view(delta).fill(0);
    const eps = norms.map((n) => epsBuffer(engine, n.eps, B));
    const cand = norms.map(() => engine.arena.allocF32(B * D));
    for (let t = 0; t < steps; t++) {
      engine.arena.scope(() => {
        const x = addDelta(x0, delta);
        const { g, logits } = lossGrad(model, x, y, 'ce');
        track.offer(x, logits, y);
        const best = new Float64Array(B).fill(-Infinity), pick = new Int32Array(B);
        norms.forEach((n, k) => {
          engine.view(cand[k]).set(engine.view(delta));
          n.hooks.direction(engine, g.buf, x.buf, dir, B, D);
          stepRows(engine, cand[k], dir, n.step, B, D);
          n.hooks.project(engine, cand[k], x0.buf, eps[k], B, D);
          engine.arena.scope(() => {
            const xk = addDelta(x0, cand[k]);
            const lk = logitsAt(model, xk);
            track.offer(xk, lk, y);
            const { ce } = scoreLogits(lk, y);
            for (let i = 0; i < B; i++) if (ce[i] > best[i]) { best[i] = ce[i]; pick[i] = k; }
          });
        });
        const d = engine.view(delta);
        for (let i = 0; i < B; i++) d.set(engine.view(cand[pick[i]]).subarray(i * D, (i + 1) * D), i * D);
      });
    }
    engine.arena.scope(() => {
      const x = addDelta(x0, delta);
      track.offer(x, logitsAt(model, x), y);
    });
  });
  return { track, gradEvals: steps * B, forwards: (steps * norms.length + 1) * B };
}

/** Rows of `parts` (each (B, …)) picked per example by `pick`, as one (B, …) tensor. */
function pickRows(parts: Tensor[], pick: Int32Array): Tensor {
  const out = Tensor.empty(parts[0].engine, parts[0].shape);
  const B = pick.length, D = out.size / B, o = out.view();
  for (let i = 0; i < B; i++) o.set(parts[pick[i]].view().subarray(i * D, (i + 1) * D), i * D);
  return out;
}

/** Everything a strategy needs for one batch. */
export interface BatchContext {
  engine: Engine;
  model: Classifier;
  x0: Tensor;
  y: Int32Array;
  ids: Int32Array;
  /** The training attacks (already scaled for start-small). */
  attacks: Attack[];
  /** Global step (0-based): alternate's cycle. */
  step: number;
  /** sampled: the Rng of the draws and the running accuracies (updated here). */
  rng: Rng;
  sampler: SamplerState;
}

/** The training batch of `strategy` for the clean batch in ctx (see the header). */
export function strategyBatch(strategy: Strategy, ctx: BatchContext): TrainBatch {
  const { engine, model, x0, y, ids, attacks } = ctx;
  const B = y.length;
  const run = (k: number) => runAttack(attacks[k], { engine, model, x0, y, ids }, { earlyStop: false });
  const one = (k: number): TrainBatch => {
    const r = run(k);
    return { x: r.adv, y, advCorrect: countCorrect(r.wrong), advRows: B, source: new Int32Array(B).fill(k), gradEvals: r.gradEvals, forwards: r.forwards };
  };
  switch (strategy) {
    case 'none':
      return { x: x0, y, advCorrect: null, advRows: 0, source: new Int32Array(B).fill(-1), gradEvals: 0, forwards: 0 };
    case 'single':
      return one(0);
    case 'alternate':
      return one(ctx.step % attacks.length);
    case 'sampled': {
      const k = sampleAttack(ctx.sampler, ctx.rng);
      const r = one(k);
      ctx.sampler.correct[k] += r.advCorrect!;
      ctx.sampler.seen[k] += B;
      return r;
    }
    case 'avg': {
      const rs = attacks.map((_, k) => run(k));
      const D = x0.size / B;
      const x = Tensor.empty(engine, [B * rs.length, ...x0.shape.slice(1)]);
      const yy = new Int32Array(B * rs.length), source = new Int32Array(B * rs.length);
      rs.forEach((r, k) => {
        x.view().set(r.adv.view(), k * B * D);
        yy.set(y, k * B);
        source.fill(k, k * B, (k + 1) * B);
      });
      return { x, y: yy, advCorrect: rs.reduce((s, r) => s + countCorrect(r.wrong), 0), advRows: B * rs.length, source, gradEvals: rs.reduce((s, r) => s + r.gradEvals, 0), forwards: rs.reduce((s, r) => s + r.forwards, 0) };
    }
    case 'max': {
      const rs = attacks.map((_, k) => run(k));
      const pick = argmaxCe(rs.map((r) => r.ce));
      let correct = 0;
      for (let i = 0; i < B; i++) if (!rs[pick[i]].wrong[i]) correct++;
      return { x: pickRows(rs.map((r) => r.adv), pick), y, advCorrect: correct, advRows: B, source: pick, gradEvals: rs.reduce((s, r) => s + r.gradEvals, 0), forwards: rs.reduce((s, r) => s + r.forwards, 0) };
    }
    case 'msd': {
      const { track, gradEvals, forwards } = msdAttack(engine, model, x0, y, attacks);
      return { x: track.adv, y, advCorrect: countCorrect(track.wrong), advRows: B, source: new Int32Array(B).fill(0), gradEvals, forwards };
    }
  }
}

/**
 * A token with its budget scaled by f (start-small: f = 1/3 in the first epoch): the ε of a norm
 * token, the pixels and degrees of an RT token (bare 'rt…' means 3 px, 30°), each part of an
 * affine token. Options are kept (an absolute stepsize= does not scale).
 */
export function scaleToken(token: string, f: number): string {
  const t = token.trim();
  const affine = splitAffine(t);
  if (affine) return `affine(${affine.parts.map((s) => scaleToken(s, f)).join('+')})${affine.options}`;
  const [kind, ...rest] = t.split(':');
  const positional = rest.filter((p) => !p.includes('='));
  const options = rest.filter((p) => p.includes('='));
  const budget = kind.startsWith('rt') && positional.length === 0 ? ['3', '30'] : positional;
  return [kind, ...budget.map((v) => String(parseEps(v, `attack '${t}'`) * f)), ...options].join(':');
}
