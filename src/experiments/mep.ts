// `npm run experiment:mep` (`multirobust experiment mep`): the mutually-exclusive-perturbations experiment (issue 18; paper.md §3).
//
// 1. The Gaussian task (src/experiments/gaussian.ts) for d = 1000, α ∈ {1, 2, 3}, p ∈ {0.6, 0.7,
//    0.9}, ε∞ = 2η, ε1 = 2: the closed forms of f∞ = sign(x0) and f1 = sign(Σ xi), checked against
//    Monte Carlo on 100k samples with the exact attacks (within 3 standard errors); the best union
//    over w = (a, b·1) (1-D search) and over every bias-free linear classifier; and logistic models
//    trained with the project's autodiff (src/experiments/linear_train.ts) by Nat, Adv∞, Adv1,
//    Adv_avg and Adv_max with the exact linear-model attacks, scored exactly on their weights and on
//    a held-out sample.
// 2. L∞ vs rotation-translation on 16×16 images (src/experiments/rt.ts): f_chk, f_mean and the same
//    five training strategies, the RT attack through the engine's spatialTransform op.
// This file: runMep and the results' markdown tables, JSON and SVG of the trade-off as p varies
// (α = 2; src/report/plot.ts); the Gaussian JSON is keyed "alpha=A,p=P", each with f_inf, f_1
// (closed form {clean, linf, l1, union}), best_linear_union and trained. The command (flags, help,
// printing, files) is src/cli/experiments/mep.ts.
// Seeded and deterministic for a given seed (the engine's GEMM results are reproducible per machine,
// build and thread count). ≈ 45 s of CPU on 2 cores (more wall time on a loaded machine).
//
//   npm run experiment:mep -- [--json FILE] [--svg FILE] [--seed S] [--mc N] [--threads N]
import { Rng } from '../nn/init.ts';
import { lineChartSvg, type Series } from '../report/plot.ts';
import type { Engine } from '../wasm/engine.ts';
import {
  bestSymmetricUnion, bestUnbiasedUnion, budgets, closedFormF1, closedFormFInf, empiricalAccuracies, exactAccuracies, f1, fInf,
  l1Attack, linfAttack, monteCarlo, sample, standardError, summarize,
  type Accuracies, type GaussianTask, type GeneralOptimum, type UnionOptimum,
} from './gaussian.ts';
import { trainLinear, type LinearAttack, type LinearWeights, type Strategy } from './linear_train.ts';
import { fChecker, fMean, rtAccuracies, rtAttack, rtClosedForms, rtEpsInf, sampleImages, type RtAccuracies, type RtTask } from './rt.ts';
import { pctNumber as pct } from '../report/format.ts';

export const MODELS = ['nat', 'adv_inf', 'adv_1', 'avg', 'max'] as const;
export type ModelName = (typeof MODELS)[number];
const LABEL: Record<ModelName, string> = { nat: 'Nat', adv_inf: 'Adv∞', adv_1: 'Adv1', avg: 'Adv_avg', max: 'Adv_max' };

export interface MepOptions {
  d: number;
  alphas: number[];
  ps: number[];
  /** Monte Carlo samples per setting (0: skip). */
  mc: number;
  nTrain: number;
  nTest: number;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  rt: { size: number; alpha: number; ps: number[]; contrast: number; nTrain: number; nTest: number; tries: number };
}

export const DEFAULTS: MepOptions = {
  d: 1000, alphas: [1, 2, 3], ps: [0.6, 0.7, 0.9], mc: 100_000, nTrain: 5000, nTest: 5000, epochs: 10, batch: 100, lr: 0.01, seed: 0,
  rt: { size: 16, alpha: 2, ps: [0.7, 0.9], contrast: 1, nTrain: 2000, nTest: 2000, tries: 10 },
};

export interface TrainedResult {
  /** Exact (population) accuracies of the learned weights. */
  exact: Accuracies;
  /** Accuracies on a held-out sample of nTest, under the exact attacks. */
  test: Accuracies;
}

export interface SettingResult {
  task: GaussianTask;
  closed: { fInf: Accuracies; f1: Accuracies };
  mc: { fInf: Accuracies; f1: Accuracies; n: number; maxZ: number } | null;
  bestSymmetric: UnionOptimum;
  bestUnbiased: GeneralOptimum;
  trained: Record<ModelName, TrainedResult>;
}

export interface RtResult {
  task: RtTask;
  closed: ReturnType<typeof rtClosedForms>;
  fChk: RtAccuracies;
  fMean: RtAccuracies;
  trained: Record<ModelName, RtAccuracies>;
}

export interface MepResult {
  settings: SettingResult[];
  rt: RtResult[];
  seconds: number;
}

const STRATEGY: Record<ModelName, { strategy: Strategy; attacks: (a: LinearAttack[]) => LinearAttack[] }> = {
  nat: { strategy: 'nat', attacks: () => [] },
  adv_inf: { strategy: 'single', attacks: (a) => [a[0]] },
  adv_1: { strategy: 'single', attacks: (a) => [a[1]] },
  avg: { strategy: 'avg', attacks: (a) => a },
  max: { strategy: 'max', attacks: (a) => a },
};

/** Largest |MC − closed form| / SE over the figures (a figure with SE 0 must match exactly, else ∞). */
function maxZ(closed: Accuracies[], mc: Accuracies[], n: number): number {
  let z = 0;
  closed.forEach((c, i) => {
    for (const k of ['clean', 'linf', 'l1', 'union'] as const) {
      const se = standardError(c[k], n), diff = Math.abs(mc[i][k] - c[k]);
      z = Math.max(z, se > 0 ? diff / se : diff === 0 ? 0 : Infinity);
    }
  });
  return z;
}

function trainModels<A>(engine: Engine, x: Float32Array, y: Int8Array, D: number, attacks: LinearAttack[], opts: MepOptions, seed: number, score: (w: LinearWeights) => A): Record<ModelName, A> {
  const out = {} as Record<ModelName, A>;
  for (const name of MODELS) {
    const s = STRATEGY[name];
    const { layer, weights } = trainLinear(engine, x, y, D, { strategy: s.strategy, attacks: s.attacks(attacks), epochs: opts.epochs, batch: opts.batch, lr: opts.lr, seed });
    layer.dispose();
    out[name] = score(weights);
  }
  return out;
}

export function runMep(engine: Engine, opts: MepOptions = DEFAULTS, log: (s: string) => void = () => {}): MepResult {
  const t0 = performance.now();
  const tasks: GaussianTask[] = [];
  for (const alpha of opts.alphas) for (const p of opts.ps) tasks.push({ d: opts.d, alpha, p });
  const mc = opts.mc > 0 ? monteCarlo(tasks, opts.mc, opts.seed + 1) : null;
  log(`Monte Carlo: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const settings = tasks.map((task, i): SettingResult => {
    const closed = { fInf: closedFormFInf(task), f1: closedFormF1(task) };
    const { epsInf, eps1 } = budgets(task);
    const train = sample(task, opts.nTrain, opts.seed * 1000 + 10 + i);
    const test = sample(task, opts.nTest, opts.seed * 1000 + 500 + i);
    const trained = trainModels(engine, train.x, train.y, train.dim, [linfAttack(epsInf), l1Attack(eps1)], opts, opts.seed + 7, (f) => ({
      exact: exactAccuracies(task, summarize({ a: f.w[0], v: f.w.subarray(1), bias: f.bias })),
      test: empiricalAccuracies(test, f.w, f.bias, epsInf, eps1),
    }));
    log(`α = ${task.alpha}, p = ${task.p}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return {
      task, closed,
      mc: mc ? { ...mc[i], n: opts.mc, maxZ: maxZ([closed.fInf, closed.f1], [mc[i].fInf, mc[i].f1], opts.mc) } : null,
      bestSymmetric: bestSymmetricUnion(task),
      bestUnbiased: bestUnbiasedUnion(task),
      trained,
    };
  });
  const rt = opts.rt.ps.map((p, i): RtResult => {
    const task: RtTask = { size: opts.rt.size, alpha: opts.rt.alpha, p, contrast: opts.rt.contrast };
    const eps = rtEpsInf(task);
    const train = sampleImages(task, opts.rt.nTrain, opts.seed * 1000 + 900 + i);
    const test = sampleImages(task, opts.rt.nTest, opts.seed * 1000 + 950 + i);
    const attacks = [linfAttack(eps), rtAttack(engine, task.size, { tries: opts.rt.tries, rng: new Rng(opts.seed + 31 + i) })];
    const trained = trainModels(engine, train.x, train.y, task.size * task.size, attacks, opts, opts.seed + 7, (f) => rtAccuracies(engine, f, test, eps));
    log(`RT p = ${p}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return { task, closed: rtClosedForms(task), fChk: rtAccuracies(engine, fChecker(task), test, eps), fMean: rtAccuracies(engine, fMean(task), test, eps), trained };
  });
  return { settings, rt, seconds: (performance.now() - t0) / 1000 };
}

// ---- output ----

const four = (a: { clean: number; linf: number; l1?: number; rt?: number; union: number }, second: 'l1' | 'rt'): string[] => [pct(a.clean), pct(a.linf), pct(a[second]!), pct(a.union)];

/** The Gaussian table: closed forms, best unions and trained models (exact, with the test sample's figure in brackets). */
export function gaussianTable(r: MepResult): string {
  const lines = ['| α | p | model | clean | L∞ | L1 | union | how |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const s of r.settings) {
    const { alpha, p } = s.task;
    const row = (model: string, cells: string[], how: string) => lines.push(`| ${alpha} | ${p} | ${model} | ${cells.join(' | ')} | ${how} |`);
    row('f∞ = sign(x0)', four(s.closed.fInf, 'l1'), 'closed form');
    row('f1 = sign(Σ xi)', four(s.closed.f1, 'l1'), 'closed form');
    row('best w = (a, b·1)', ['', '', '', pct(s.bestSymmetric.union)], `1-D search, b/a = ${(s.bestSymmetric.b / s.bestSymmetric.a).toPrecision(3)}`);
    row('best bias-free linear', ['', '', '', pct(s.bestUnbiased.union)], `search: a = ${s.bestUnbiased.a.toFixed(2)}, ‖v‖∞ = 1, ‖v‖₁ = ${s.bestUnbiased.l1.toFixed(1)}`);
    for (const m of MODELS) {
      const t = s.trained[m];
      const cells = four(t.exact, 'l1').map((v, i) => `${v} (${four(t.test, 'l1')[i]})`);
      row(`${LABEL[m]} (trained)`, cells, 'exact on its weights (test sample)');
    }
  }
  return lines.join('\n');
}

export function monteCarloTable(r: MepResult): string {
  const lines = ['| α | p | f∞ MC clean / L∞ / L1 / union | f1 MC clean / L∞ / L1 / union | f1 closed form | max \\|MC − closed\\| / SE |', '| --- | --- | --- | --- | --- | --- |'];
  for (const s of r.settings) {
    if (!s.mc) continue;
    lines.push(`| ${s.task.alpha} | ${s.task.p} | ${four(s.mc.fInf, 'l1').join(' / ')} | ${four(s.mc.f1, 'l1').join(' / ')} | ${four(s.closed.f1, 'l1').join(' / ')} | ${s.mc.maxZ.toFixed(2)} |`);
  }
  return lines.join('\n');
}

export function rtTable(r: MepResult): string {
  const lines = ['| α | p | model | clean | L∞ | RT | union | how |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const s of r.rt) {
    const { alpha, p } = s.task;
    const row = (model: string, a: RtAccuracies, how: string) => lines.push(`| ${alpha} | ${p} | ${model} | ${four(a, 'rt').join(' | ')} | ${how} |`);
    row('f_chk = sign(Σ χ·x)', s.fChk, `test sample (closed form: clean ${pct(s.closed.fChk.clean)}, L∞ ${pct(s.closed.fChk.linf)})`);
    row('f_mean = sign(Σ x)', s.fMean, `test sample (closed form: clean ${pct(s.closed.fMean.clean)}, L∞ ${pct(s.closed.fMean.linf)})`);
    for (const m of MODELS) row(`${LABEL[m].replace('Adv1', 'AdvRT')} (trained)`, s.trained[m], 'test sample');
  }
  return lines.join('\n');
}

/** The --json object: one entry per setting keyed "alpha=A,p=P". */
export function toJson(r: MepResult): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of r.settings) {
    out[`alpha=${s.task.alpha},p=${s.task.p}`] = {
      f_inf: s.closed.fInf,
      f_1: s.closed.f1,
      best_linear_union: {
        union: s.bestSymmetric.union, a: s.bestSymmetric.a, b: s.bestSymmetric.b,
        bias_free_any_w: { union: s.bestUnbiased.union, a: s.bestUnbiased.a, l1: s.bestUnbiased.l1, sum_sq: s.bestUnbiased.sumSq },
      },
      trained: Object.fromEntries(MODELS.map((m) => [m, s.trained[m]])),
    };
  }
  return out;
}

/** Robust accuracy against p for one α: closed forms on a fine grid of p, trained models at the run's p. */
export async function tradeoffSvg(r: MepResult, d: number, alpha: number): Promise<string> {
  const grid = Array.from({ length: 11 }, (_, i) => 0.5 + 0.05 * i);
  const task = (p: number): GaussianTask => ({ d, alpha, p });
  const curve = (f: (p: number) => number): { x: number; y: number }[] => grid.map((p) => ({ x: p, y: f(p) }));
  const runs = r.settings.filter((s) => s.task.alpha === alpha && s.task.d === d);
  const trained = (m: ModelName, k: keyof Accuracies) => runs.map((s) => ({ x: s.task.p, y: s.trained[m].exact[k] }));
  const series: Series[] = [
    { name: 'f∞ = sign(x0): L∞ (= clean = p)', points: curve((p) => exactAccuracies(task(p), fInf(task(p))).linf) },
    { name: 'f1 = sign(Σxi): L1', points: curve((p) => exactAccuracies(task(p), f1(task(p))).l1) },
    { name: 'f1 = sign(Σxi): L∞', points: curve((p) => exactAccuracies(task(p), f1(task(p))).linf) },
    { name: 'best union, w = (a, b·1)', points: curve((p) => bestSymmetricUnion(task(p), 4000).union) },
    { name: 'best union, any bias-free linear', points: curve((p) => bestUnbiasedUnion(task(p)).union) },
    { name: 'Adv∞ trained: L1', points: trained('adv_inf', 'l1') },
    { name: 'Adv1 trained: L∞', points: trained('adv_1', 'linf') },
    { name: 'Adv_avg trained: union', points: trained('avg', 'union') },
    { name: 'Adv_max trained: union', points: trained('max', 'union') },
  ].filter((s) => s.points.length > 0);
  return lineChartSvg({
    title: `Gaussian MEP task, d = ${d}, α = ${alpha}, ε∞ = 2η, ε1 = 2: robust accuracy vs p = P(x0 = y)`,
    xLabel: 'p (probability that the robust feature x0 equals y)',
    yLabel: 'accuracy (exact, population)',
    series, xDomain: [0.5, 1], yDomain: [0, 1], width: 560, height: 340,
  });
}
