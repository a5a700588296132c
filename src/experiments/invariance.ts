// `npm run experiment:invariance` (`multirobust experiment invariance`; the command, its flags and
// printing: src/cli/experiments/invariance.ts): excessive invariance (issue 19; the seed talk's last slide,
// Jacobsen et al. 2019). A budget large enough for "extreme" robustness (L∞ 0.3, L1 30) contains
// points that look like another class; a model robust in that ball must keep its label there.
//
// For each test image x of class y (the first n that every model classifies correctly):
//   1. candidates: the K training images of classes ≠ y nearest to x in L2 (among the first
//      `pool` training images);
//   2. for each ball B (norm, ε), each candidate x′ is projected onto B(x) ∩ [0, 1]: the in-ball
//      point closest to x′ in L2, z = x + P(x′ − x), with the attacks' exact projections
//      (src/attacks/pgd.ts hooks: L∞ clip, L2 rescale + clip, L1 ∩ box). The candidate with the
//      smallest ‖z − x′‖₂ is the target, z the invariance example;
//   3. the standard model, Adv∞ (ε = 0.3) and the multi-perturbation model (src/experiments/
//      models.ts: trained here and cached, or given by flags) classify z: keeps y, follows y′ (the
//      target's class), or another class.
// Prints the models' clean and robust accuracy (PGD L∞ 0.3, L2 2, SLIDE L1 10 on the first evalN
// test images) so the table can be read, the table per ball, and writes a PNG grid of the first
// gridK examples: rows original, then per ball the in-ball point (captioned with the predictions
// S = standard, A = Adv∞, M = multi) and its target (captioned y′). Whether a person sees y′ in z
// is not measured here: the grid is there to judge it.
//
// Shapes: images (N, 28, 28, 1) NHWC f32 in [0, 1] (rows of D = 784), labels (N) int32. Seeded:
// the models (models.ts) and the robust evaluation's random starts; the search is deterministic.
//
//   npm run experiment:invariance -- [--balls linf:0.3,l1:30] [--n 200] [--pool 60000]
//     [--candidates 16] [--eval-n 500] [--eval-steps 20] [--grid-k 8] [--png runs/experiments/invariance-grid.png]
//     [--standard PATH] [--linf PATH] [--multi PATH] [--cache DIR] [--json FILE] [--seed S] [--threads N]
import { argmaxRows, epsBuffer, logitsAt } from '../attacks/core.ts';
import { l2Threat, linfThreat, slideThreat, type NormThreat } from '../attacks/pgd.ts';
import { evaluate } from '../eval/evaluate.ts';
import type { Module } from '../nn/module.ts';
import { imageGridPng, type GridRow } from '../report/png.ts';
import { Tensor } from '../tensor.ts';
import { firstN, loadMnist, type ImageDataset } from '../train/data.ts';
import type { Engine } from '../wasm/engine.ts';
import { LINF, MULTI, obtainModel, STANDARD, type Recipe } from './models.ts';
import { pct } from '../report/format.ts';

export type BallNorm = 'linf' | 'l2' | 'l1';
export interface Ball {
  norm: BallNorm;
  eps: number;
}

export interface InvarianceOptions {
  balls: Ball[];
  /** Test images (the first n all models classify correctly). */
  n: number;
  /** Training images searched for targets. */
  pool: number;
  /** Nearest candidates (L2) projected exactly per image. */
  candidates: number;
  /** Test images of the robust-accuracy table, and the steps of its attacks. */
  evalN: number;
  evalSteps: number;
  /** Examples drawn in the PNG. */
  gridK: number;
  png: string;
  seed: number;
  cacheDir: string;
  /** Checkpoints instead of the cached models. */
  standard?: string;
  linf?: string;
  multi?: string;
}

export const DEFAULTS: InvarianceOptions = {
  balls: [{ norm: 'linf', eps: 0.3 }, { norm: 'l1', eps: 30 }], n: 200, pool: 60000, candidates: 16, evalN: 500, evalSteps: 20, gridK: 8,
  png: 'runs/experiments/invariance-grid.png', seed: 0, cacheDir: 'runs/experiments',
};

/** The three models, in table order: key, label, recipe. */
export const MODELS = [
  { key: 'standard', label: 'standard', letter: 'S', recipe: STANDARD },
  { key: 'linf', label: 'Adv∞ (ε = 0.3)', letter: 'A', recipe: LINF },
  { key: 'multi', label: 'multi (npm start)', letter: 'M', recipe: MULTI },
] as const satisfies readonly { key: 'standard' | 'linf' | 'multi'; label: string; letter: string; recipe: Recipe }[];
export type ModelKey = (typeof MODELS)[number]['key'];

export const ballName = (b: Ball): string => `${b.norm}:${b.eps}`;

function threatOf(norm: BallNorm): NormThreat {
  return norm === 'linf' ? linfThreat : norm === 'l2' ? l2Threat : slideThreat(99, 'exact');
}

/** Indices (into pool) of the k images with label ≠ y nearest to x in L2, nearest first. */
export function nearestOtherClass(x: Float32Array, y: number, pool: ImageDataset, k: number): Int32Array {
  const D = pool.height * pool.width * pool.channels, img = pool.images;
  const best: { i: number; d: number }[] = [];
  for (let i = 0; i < pool.n; i++) {
    if (pool.labels[i] === y) continue;
    let d = 0;
    const o = i * D;
    for (let j = 0; j < D; j++) {
      const v = img[o + j] - x[j];
      d += v * v;
    }
    if (best.length < k || d < best[best.length - 1].d) {
      // Insertion into the sorted list of the k best (ties: the lower index stays first).
      let p = best.length;
      while (p > 0 && best[p - 1].d > d) p--;
      best.splice(p, 0, { i, d });
      if (best.length > k) best.pop();
    }
  }
  return Int32Array.from(best, (b) => b.i);
}

/**
 * The points of ball ∩ [0, 1] around x nearest (L2) to each target row: z_r = x + P(t_r − x).
 * x (D), targets (R × D); returns (R × D).
 */
export function projectTowards(engine: Engine, x: Float32Array, targets: Float32Array, ball: Ball): Float32Array {
  const D = x.length, R = targets.length / D;
  return engine.arena.scope(() => {
    const x0 = engine.arena.allocF32(R * D), delta = engine.arena.allocF32(R * D);
    const xv = engine.view(x0), dv = engine.view(delta);
    for (let r = 0; r < R; r++) {
      xv.set(x, r * D);
      for (let j = 0; j < D; j++) dv[r * D + j] = targets[r * D + j] - x[j];
    }
    threatOf(ball.norm).project(engine, delta, x0, epsBuffer(engine, ball.eps, R), R, D);
    const d2 = engine.view(delta), out = new Float32Array(R * D);
    for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, x[i % D] + d2[i]));
    return out;
  });
}

export interface InvarianceExample {
  /** Index in the test set. */
  index: number;
  y: number;
  /** Per ball: the target's training index and class, the in-ball point, its distances, each model's prediction. */
  balls: { target: number; yTarget: number; z: Float32Array; dist: number; residual: number; start: number; pred: Record<ModelKey, number> }[];
}

export interface InvarianceResult {
  models: Record<ModelKey, { path: string; source: string; seconds: number; clean: number; robust: Record<string, number>; union: number }>;
  examples: InvarianceExample[];
  /** Test images scanned to find n that every model classifies correctly. */
  scanned: number;
  /** Per ball and model: fractions keeping y, following y′, other; and on the targets themselves. */
  summary: {
    ball: string; meanResidual: number; meanStart: number;
    /** In-ball points where the standard model follows y′ (the change fools the undefended model). */
    stdFollows: number;
    /** keepsWhereStdFollows: among those points, the fraction where this model still keeps y. */
    rows: Record<ModelKey, { keeps: number; follows: number; other: number; onTarget: number; keepsWhereStdFollows: number | null }>;
  }[];
  grid: Uint8Array;
  seconds: number;
}

function l2(a: Float32Array, ao: number, b: Float32Array, bo: number, D: number): number {
  let s = 0;
  for (let j = 0; j < D; j++) {
    const v = a[ao + j] - b[bo + j];
    s += v * v;
  }
  return Math.sqrt(s);
}

/** Predicted classes of images (B rows of ds's shape) in batches of 100. */
function predict(engine: Engine, model: Module, images: Float32Array, ds: ImageDataset): Int32Array {
  const D = ds.height * ds.width * ds.channels, B = images.length / D, out = new Int32Array(B);
  for (let s = 0; s < B; s += 100) {
    const e = Math.min(B, s + 100);
    out.set(engine.arena.scope(() => argmaxRows(logitsAt(model, Tensor.from(engine, images.subarray(s * D, e * D), [e - s, ds.height, ds.width, ds.channels])), e - s)), s);
  }
  return out;
}

export function runInvariance(engine: Engine, opts: InvarianceOptions, log: (s: string) => void = () => {}, data?: { train: ImageDataset; test: ImageDataset }): InvarianceResult {
  const t0 = performance.now();
  const train = data?.train ?? loadMnist('train');
  const test = data?.test ?? loadMnist('test');
  const D = test.height * test.width * test.channels;
  const given: Record<ModelKey, string | undefined> = { standard: opts.standard, linf: opts.linf, multi: opts.multi };
  // Checkpoints the user gave are loaded first, so a bad one fails before any training.
  const got = {} as Record<ModelKey, ReturnType<typeof obtainModel>>;
  for (const m of [...MODELS].sort((a, b) => Number(!given[a.key]) - Number(!given[b.key]))) got[m.key] = obtainModel(engine, m.recipe, { given: given[m.key], cacheDir: opts.cacheDir, seed: opts.seed, train, log });
  const obtained = MODELS.map((m) => got[m.key]);
  const nets = Object.fromEntries(MODELS.map((m, i) => [m.key, obtained[i].model])) as Record<ModelKey, Module>;

  // Clean and robust accuracy of each model, so that the table can be read.
  const models = {} as InvarianceResult['models'];
  MODELS.forEach((m, i) => {
    const rep = evaluate(engine, nets[m.key], test, { attacks: ['linf:0.3', 'l2:2', 'l1:10'], n: Math.min(opts.evalN, test.n), seed: opts.seed, tokenDefaults: { steps: opts.evalSteps, restarts: 1 } });
    models[m.key] = { path: obtained[i].path, source: obtained[i].source, seconds: obtained[i].seconds, clean: rep.clean_accuracy, robust: Object.fromEntries(rep.attacks.map((a) => [a.name, a.robust_accuracy])), union: rep.union_accuracy };
    log(`${m.label}: ${obtained[i].path} (${obtained[i].source}), clean ${(100 * rep.clean_accuracy).toFixed(1)} %, union ${(100 * rep.union_accuracy).toFixed(1)} % on ${rep.n} test images`);
  });

  // The first n test images every model classifies correctly.
  const chosen: number[] = [];
  let scanned = 0;
  for (let start = 0; start < test.n && chosen.length < opts.n; start += 100) {
    const end = Math.min(test.n, start + 100);
    const imgs = test.images.subarray(start * D, end * D);
    const preds = MODELS.map((m) => predict(engine, nets[m.key], imgs, test));
    for (let i = start; i < end && chosen.length < opts.n; i++) {
      scanned = i + 1;
      if (preds.every((p) => p[i - start] === test.labels[i])) chosen.push(i);
    }
  }
  if (chosen.length < opts.n) log(`only ${chosen.length} of ${test.n} test images are classified correctly by every model`);

  const pool = firstN(train, opts.pool);
  const examples: InvarianceExample[] = [];
  for (const idx of chosen) {
    const x = test.images.slice(idx * D, (idx + 1) * D), y = test.labels[idx];
    const cand = nearestOtherClass(x, y, pool, opts.candidates);
    const tgt = new Float32Array(cand.length * D);
    cand.forEach((c, r) => tgt.set(pool.images.subarray(c * D, (c + 1) * D), r * D));
    const balls = opts.balls.map((ball) => {
      const z = projectTowards(engine, x, tgt, ball);
      let bestR = 0, bestRes = Infinity;
      for (let r = 0; r < cand.length; r++) {
        const res = l2(z, r * D, tgt, r * D, D);
        if (res < bestRes) {
          bestRes = res;
          bestR = r;
        }
      }
      const zb = z.slice(bestR * D, (bestR + 1) * D);
      return { target: cand[bestR], yTarget: pool.labels[cand[bestR]], z: zb, dist: l2(zb, 0, x, 0, D), residual: bestRes, start: l2(x, 0, tgt, bestR * D, D), pred: {} as Record<ModelKey, number> };
    });
    examples.push({ index: idx, y, balls });
  }
  // Predictions on every in-ball point and on the targets, in batches per ball.
  const summary = opts.balls.map((ball, b) => {
    const zs = new Float32Array(examples.length * D), ts = new Float32Array(examples.length * D);
    examples.forEach((e, i) => {
      zs.set(e.balls[b].z, i * D);
      ts.set(pool.images.subarray(e.balls[b].target * D, (e.balls[b].target + 1) * D), i * D);
    });
    const rows = {} as InvarianceResult['summary'][number]['rows'];
    for (const m of MODELS) {
      const pz = examples.length ? predict(engine, nets[m.key], zs, test) : new Int32Array(0);
      const pt = examples.length ? predict(engine, nets[m.key], ts, test) : new Int32Array(0);
      let keeps = 0, follows = 0, onTarget = 0;
      examples.forEach((e, i) => {
        e.balls[b].pred[m.key] = pz[i];
        if (pz[i] === e.y) keeps++;
        else if (pz[i] === e.balls[b].yTarget) follows++;
        if (pt[i] === e.balls[b].yTarget) onTarget++;
      });
      const n = Math.max(1, examples.length);
      rows[m.key] = { keeps: keeps / n, follows: follows / n, other: (examples.length - keeps - follows) / n, onTarget: onTarget / n, keepsWhereStdFollows: null };
    }
    const mean = (f: (e: InvarianceExample) => number) => examples.reduce((s, e) => s + f(e), 0) / Math.max(1, examples.length);
    // Where the undefended model takes the change for the target's class, does a robust model still keep y?
    const moved = examples.filter((e) => e.balls[b].pred.standard === e.balls[b].yTarget);
    for (const m of MODELS) rows[m.key].keepsWhereStdFollows = m.key === 'standard' || !moved.length ? null : moved.filter((e) => e.balls[b].pred[m.key] === e.y).length / moved.length;
    return { ball: ballName(ball), meanResidual: mean((e) => e.balls[b].residual), meanStart: mean((e) => e.balls[b].start), stdFollows: moved.length, rows };
  });
  const grid = gridPng(test, examples.slice(0, opts.gridK), opts.balls, pool);
  for (const m of MODELS) nets[m.key].dispose();
  return { models, examples, scanned, summary, grid, seconds: (performance.now() - t0) / 1000 };
}

/** The PNG: row 'original' (captioned y), then per ball the in-ball points (S/A/M predictions) and their targets (y′). */
export function gridPng(test: ImageDataset, examples: InvarianceExample[], balls: Ball[], pool: ImageDataset): Uint8Array {
  const D = test.height * test.width * test.channels;
  const rows: GridRow[] = [{ label: 'original', images: examples.map((e) => test.images.slice(e.index * D, (e.index + 1) * D)) }];
  const captions: string[][] = [examples.map((e) => `y=${e.y}`)];
  balls.forEach((ball, b) => {
    rows.push({ label: `${ballName(ball)} in-ball`, images: examples.map((e) => e.balls[b].z) });
    captions.push(examples.map((e) => MODELS.map((m) => `${m.letter}${e.balls[b].pred[m.key]}`).join(' ')));
    rows.push({ label: `${ballName(ball)} target`, images: examples.map((e) => pool.images.slice(e.balls[b].target * D, (e.balls[b].target + 1) * D)) });
    captions.push(examples.map((e) => `y'=${e.balls[b].yTarget}`));
  });
  return imageGridPng({ height: test.height, width: test.width, channels: 1, rows, captions, scale: 2 });
}


/** The models' accuracies (clean, each attack, union) on the evaluation set. */
export function modelsTable(r: InvarianceResult): string {
  const attacks = Object.keys(r.models.standard.robust);
  const lines = [`| model | clean | ${attacks.join(' | ')} | union | checkpoint |`, `| --- | --- | ${attacks.map(() => '---').join(' | ')} | --- | --- |`];
  for (const m of MODELS) {
    const s = r.models[m.key];
    lines.push(`| ${m.label} | ${pct(s.clean)} | ${attacks.map((a) => pct(s.robust[a])).join(' | ')} | ${pct(s.union)} | ${s.path} (${s.source}) |`);
  }
  return lines.join('\n');
}

/** Per ball and model: keeps y, follows y′, other; and the prediction on the targets themselves. */
export function invarianceTable(r: InvarianceResult): string {
  const lines = ['| ball | mean ‖x − x′‖₂ → ‖z − x′‖₂ | model | keeps y (invariant) | follows y′ (the target\'s class) | other class | keeps y where the standard model follows y′ | predicts y′ on x′ itself |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const s of r.summary) {
    for (const m of MODELS) {
      const row = s.rows[m.key];
      const where = row.keepsWhereStdFollows === null ? '–' : `${pct(row.keepsWhereStdFollows)} of ${s.stdFollows}`;
      lines.push(`| ${s.ball} | ${s.meanStart.toFixed(2)} → ${s.meanResidual.toFixed(2)} | ${m.label} | ${pct(row.keeps)} | ${pct(row.follows)} | ${pct(row.other)} | ${where} | ${pct(row.onTarget)} |`);
    }
  }
  return lines.join('\n');
}

export function toJson(r: InvarianceResult, opts: InvarianceOptions): unknown {
  return {
    options: { ...opts }, models: r.models, scanned: r.scanned, n: r.examples.length, summary: r.summary, seconds: r.seconds,
    examples: r.examples.map((e) => ({ index: e.index, y: e.y, balls: e.balls.map((b) => ({ target: b.target, y_target: b.yTarget, dist: b.dist, residual: b.residual, start: b.start, pred: b.pred })) })),
  };
}
