// The Gaussian task of the MEP argument (paper.md §3; Tsipras et al. 2019's distribution as Tramèr &
// Boneh use it) and the exact robustness of linear classifiers on it.
//
// Task: y uniform on {−1, +1}; one robust feature x0 = +y with probability p, −y otherwise; d weak
//   features x1..xd i.i.d. N(yη, 1) with η = α/√d. Budgets (paper.md §3.2): ε∞ = 2η (shifts every
//   weak feature to the other class's mean) and ε1 = 2 (enough to flip x0 from +y to −y).
// Samples: Float32Array x of n rows of D = d + 1 values (x0 first), Int8Array y of ±1.
//
// Linear classifier f(x) = sign(w·x + β), w = (a, v) with a on x0 and v on the weak features.
// Exact attacks (no box: the features are unbounded Gaussians, so no box constraint applies):
//   L∞ ball ε: the worst δ is −ε·y·sign(w): it lowers the margin y(w·x + β) by ε‖w‖₁.
//   L1 ball ε: the worst δ puts −ε·y·sign(w_j) on one coordinate j of maximal |w_j|: margin − ε‖w‖∞.
//   Union: the worse of the two: margin − max(ε∞‖w‖₁, ε1‖w‖∞). A point counts as robust when the
//   attacked margin stays > 0 (strict: a tie is an error).
// Exact (population) accuracies: with s = y·x0 (= +1 w.p. p) and G = y·v·x_weak ~ N(η·Σv, ‖v‖₂²),
//   the margin is a·s + G + yβ, so acc(T) = ½ Σ_y Σ_s P(s)·P(G > T − a·s − yβ) for the threshold
//   T = 0 (clean), ε∞‖w‖₁ (L∞), ε1‖w‖∞ (L1) or the max of the two (union). Any linear classifier.
// The two classifiers of §3.2: f∞ = sign(x0) (clean p, L∞ p, L1 0) and f1 = sign(Σ_{i≥1} xi) (clean
//   Φ(α), L∞ Φ(−α), L1 Φ(α − 2/√d)); union of f1 = Φ(α − max(2α, 2/√d)).
// Best union over w = (a, b·1): one angle t ∈ [0, π) parametrises a : b = cos t : sin t (a scale
//   does not change a sign); bestSymmetricUnion searches it (a fine grid of exact values, then golden-section
//   refinement around the best grid point).
// NOTE (found here, not in the issue): the union optimum over *all* linear classifiers is not
//   symmetric in the weak features. Under the L∞ budget the margin's mean (η·Σv) lies below the
//   threshold (2η‖v‖₁), so more variance helps: about 1/η weak features at about the weight of x0
//   (a sparse classifier) reach a higher union (0.39–0.48 at d = 1000) than the best w = (a, b·1)
//   (0.23–0.44) at every setting of the issue. bestUnbiasedUnion searches all bias-free linear
//   classifiers; the MEP trade-off stands (every union stays below 50 %, which a constant classifier
//   reaches, and far below the single-perturbation accuracies).
import { Rng } from '../nn/init.ts';
import type { LinearAttack } from './linear_train.ts';

export interface GaussianTask {
  /** Number of weak features. */
  d: number;
  /** Weak-feature strength: η = α/√d. */
  alpha: number;
  /** P(x0 = y). */
  p: number;
}

export const eta = (t: GaussianTask): number => t.alpha / Math.sqrt(t.d);
/** The paper's budgets: ε∞ = 2η, ε1 = 2. */
export const budgets = (t: GaussianTask): { epsInf: number; eps1: number } => ({ epsInf: 2 * eta(t), eps1: 2 });

/** Seeded standard normals, two per Box–Muller pair (no draw is wasted). */
export class Normals {
  private spare = NaN;
  constructor(readonly rng: Rng) {}
  next(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = NaN;
      return s;
    }
    const u = 1 - this.rng.next();
    const v = this.rng.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

export interface Samples {
  n: number;
  /** Features per row: d + 1 (x0 first). */
  dim: number;
  x: Float32Array;
  y: Int8Array;
}

/** n samples of the task, seeded. */
export function sample(task: GaussianTask, n: number, seed: number): Samples {
  const rng = new Rng(seed);
  const g = new Normals(rng);
  const D = task.d + 1, h = eta(task);
  const x = new Float32Array(n * D), y = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const yi = rng.next() < 0.5 ? -1 : 1;
    y[i] = yi;
    const row = i * D;
    x[row] = rng.next() < task.p ? yi : -yi;
    for (let j = 1; j < D; j++) x[row + j] = yi * h + g.next();
  }
  return { n, dim: D, x, y };
}

// ---- the normal distribution ----

/** erfc with relative error < 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit). */
function erfc(z: number): number {
  const t = 1 / (1 + 0.5 * Math.abs(z));
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return z >= 0 ? r : 2 - r;
}

/** Standard normal CDF Φ. */
export function Phi(z: number): number {
  if (z === Infinity) return 1;
  if (z === -Infinity) return 0;
  return 0.5 * erfc(-z / Math.SQRT2);
}

// ---- linear classifiers ----

export interface Linear {
  /** Weight of x0. */
  a: number;
  /** Weights of the weak features (length d). */
  v: ArrayLike<number>;
  bias: number;
}

/** All a linear classifier's robustness depends on: a, Σv, ‖v‖₂², ‖v‖₁, ‖v‖∞ and the bias. */
export interface LinearSummary {
  a: number;
  sum: number;
  sumSq: number;
  l1: number;
  linf: number;
  bias: number;
}

export function summarize(f: Linear): LinearSummary {
  let sum = 0, sumSq = 0, l1 = 0, linf = 0;
  for (let i = 0; i < f.v.length; i++) {
    const w = f.v[i];
    sum += w;
    sumSq += w * w;
    l1 += Math.abs(w);
    linf = Math.max(linf, Math.abs(w));
  }
  return { a: f.a, sum, sumSq, l1, linf, bias: f.bias };
}

/** w = (a, b on the first k weak features, 0 on the rest), no bias. */
export function blockSummary(a: number, b: number, k: number): LinearSummary {
  return { a, sum: b * k, sumSq: b * b * k, l1: Math.abs(b) * k, linf: k > 0 ? Math.abs(b) : 0, bias: 0 };
}

export interface Accuracies {
  clean: number;
  linf: number;
  l1: number;
  union: number;
}

/** The margin shifts of the exact attacks: ε∞‖w‖₁ and ε1‖w‖∞. */
export function attackShifts(s: LinearSummary, epsInf: number, eps1: number): { linf: number; l1: number } {
  return { linf: epsInf * (Math.abs(s.a) + s.l1), l1: eps1 * Math.max(Math.abs(s.a), s.linf) };
}

/** P(margin > T) over the task's distribution. */
function robustProb(task: GaussianTask, s: LinearSummary, T: number): number {
  const mean = eta(task) * s.sum, sd = Math.sqrt(s.sumSq);
  const pGreater = (c: number): number => (sd > 0 ? Phi((mean - c) / sd) : mean > c ? 1 : 0);
  let acc = 0;
  for (const yb of [s.bias, -s.bias]) {
    acc += 0.5 * (task.p * pGreater(T - s.a - yb) + (1 - task.p) * pGreater(T + s.a - yb));
  }
  return acc;
}

/** Exact clean / L∞ / L1 / union accuracy of a linear classifier (population, not a sample). */
export function exactAccuracies(task: GaussianTask, s: LinearSummary, epsInf = budgets(task).epsInf, eps1 = budgets(task).eps1): Accuracies {
  const sh = attackShifts(s, epsInf, eps1);
  return {
    clean: robustProb(task, s, 0),
    linf: robustProb(task, s, sh.linf),
    l1: robustProb(task, s, sh.l1),
    union: robustProb(task, s, Math.max(sh.linf, sh.l1)),
  };
}

/** f∞ = sign(x0) and f1 = sign(Σ_{i≥1} xi) as summaries. */
export const fInf = (task: GaussianTask): LinearSummary => blockSummary(1, 0, task.d);
export const f1 = (task: GaussianTask): LinearSummary => blockSummary(0, 1, task.d);

/** The paper's closed forms (§3.2), written out: they must equal exactAccuracies of fInf / f1. */
export function closedFormFInf(task: GaussianTask): Accuracies {
  const { epsInf, eps1 } = budgets(task);
  const robustLinf = epsInf < 1 ? task.p : 0;
  const robustL1 = eps1 < 1 ? task.p : 0;
  return { clean: task.p, linf: robustLinf, l1: robustL1, union: Math.min(robustLinf, robustL1) };
}

export function closedFormF1(task: GaussianTask): Accuracies {
  const { alpha, d } = task;
  const sd = Math.sqrt(d);
  return { clean: Phi(alpha), linf: Phi(-alpha), l1: Phi(alpha - 2 / sd), union: Phi(alpha - Math.max(2 * alpha, 2 / sd)) };
}

// ---- exact attacks on samples ----

/** Margins y(w·x + β) of the rows, before any attack. */
export function margins(data: Samples, w: ArrayLike<number>, bias: number): Float64Array {
  const { n, dim, x, y } = data;
  if (w.length !== dim) throw new RangeError(`margins: w has ${w.length} weights, samples have ${dim} features`);
  const m = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let z = bias;
    const row = i * dim;
    for (let j = 0; j < dim; j++) z += w[j] * x[row + j];
    m[i] = y[i] * z;
  }
  return m;
}

/** The exact worst-case L∞ perturbation of one row: −ε·y·sign(w). */
export function worstLinf(w: ArrayLike<number>, y: number, eps: number): Float64Array {
  const d = new Float64Array(w.length);
  for (let j = 0; j < w.length; j++) d[j] = -eps * y * Math.sign(w[j]);
  return d;
}

/** The exact worst-case L1 perturbation of one row: −ε·y·sign(w_j) on a coordinate j of max |w_j|. */
export function worstL1(w: ArrayLike<number>, y: number, eps: number): Float64Array {
  let j = 0;
  for (let k = 1; k < w.length; k++) if (Math.abs(w[k]) > Math.abs(w[j])) j = k;
  const d = new Float64Array(w.length);
  d[j] = -eps * y * Math.sign(w[j]);
  return d;
}

/** Empirical accuracies of w on a sample under the exact attacks (each attack applied to x, then w·x' evaluated). */
export function empiricalAccuracies(data: Samples, w: ArrayLike<number>, bias: number, epsInf: number, eps1: number): Accuracies {
  const { n, dim, x, y } = data;
  const attacked = (delta: Float64Array, i: number): number => {
    let z = bias;
    const row = i * dim;
    for (let j = 0; j < dim; j++) z += w[j] * (x[row + j] + delta[j]);
    return y[i] * z;
  };
  // The perturbations depend on the row only through y: build them once per label.
  const dInf = new Map([1, -1].map((yy) => [yy, worstLinf(w, yy, epsInf)]));
  const d1 = new Map([1, -1].map((yy) => [yy, worstL1(w, yy, eps1)]));
  const zero = new Float64Array(dim);
  let clean = 0, linf = 0, l1 = 0, union = 0;
  for (let i = 0; i < n; i++) {
    const ok0 = attacked(zero, i) > 0;
    const okInf = attacked(dInf.get(y[i])!, i) > 0;
    const ok1 = attacked(d1.get(y[i])!, i) > 0;
    clean += +ok0;
    linf += +okInf;
    l1 += +ok1;
    union += +(okInf && ok1);
  }
  return { clean: clean / n, linf: linf / n, l1: l1 / n, union: union / n };
}

/**
 * Monte Carlo accuracies of f∞ and f1 for several tasks of the same d, on n samples each, with the
 * exact attacks applied to every sample. Common random numbers: sample i draws y, a uniform u and
 * the noise g ~ N(0, I_d) once, and every task builds its row from them (x0 = y if u < p else −y,
 * xj = yη + gj), so one pass of n·d normals serves all tasks; each task's estimate is an ordinary
 * n-sample Monte Carlo estimate (the tasks' estimates are correlated with each other, which the
 * per-task check does not care about). Rows are streamed: 100k × 1001 features need no big buffer.
 */
export function monteCarlo(tasks: GaussianTask[], n: number, seed: number): { fInf: Accuracies; f1: Accuracies }[] {
  const d = tasks[0].d;
  if (tasks.some((t) => t.d !== d)) throw new RangeError('monteCarlo: all tasks must have the same d');
  const rng = new Rng(seed);
  const g = new Normals(rng);
  const row = new Float64Array(d + 1);
  const dot = (w: Float64Array, u: Float64Array): number => {
    let z = 0;
    for (let j = 0; j < u.length; j++) z += w[j] * u[j];
    return z;
  };
  const wInf = new Float64Array(d + 1), w1 = new Float64Array(d + 1).fill(1);
  wInf[0] = 1;
  w1[0] = 0;
  const zeroCounts = (): Accuracies => ({ clean: 0, linf: 0, l1: 0, union: 0 });
  // y·w·(x + δ) = y·(w·x + w·δ): the attacked score is the clean one plus w·δ, δ built once per label.
  const per = tasks.map((t) => {
    const { epsInf, eps1 } = budgets(t);
    const attacks = (w: Float64Array) => new Map([1, -1].map((yy) => [yy, [dot(w, worstLinf(w, yy, epsInf)), dot(w, worstL1(w, yy, eps1))] as const]));
    return { task: t, h: eta(t), aInf: attacks(wInf), a1: attacks(w1), cInf: zeroCounts(), c1: zeroCounts() };
  });
  // The clean score of a row x = (x0, yη·1 + g) is w0·x0 + yη·Σ_{j≥1} wj + w·(0, g): w·(0, g) is
  // computed once per sample and classifier, the rest per task (same value as w·x, d times cheaper).
  const weakSum = (w: Float64Array): number => dot(w, row.fill(1)) - w[0];
  const sums = [weakSum(wInf), weakSum(w1)];
  const tally = (c: Accuracies, z: number, yi: number, at: readonly [number, number]) => {
    const okInf = yi * (z + at[0]) > 0, ok1 = yi * (z + at[1]) > 0;
    c.clean += +(yi * z > 0);
    c.linf += +okInf;
    c.l1 += +ok1;
    c.union += +(okInf && ok1);
  };
  for (let i = 0; i < n; i++) {
    const yi = rng.next() < 0.5 ? -1 : 1;
    const u = rng.next();
    row[0] = 0;
    for (let j = 1; j <= d; j++) row[j] = g.next();
    const gInf = dot(wInf, row), g1 = dot(w1, row);
    for (const s of per) {
      const x0 = u < s.task.p ? yi : -yi;
      tally(s.cInf, wInf[0] * x0 + yi * s.h * sums[0] + gInf, yi, s.aInf.get(yi)!);
      tally(s.c1, w1[0] * x0 + yi * s.h * sums[1] + g1, yi, s.a1.get(yi)!);
    }
  }
  const scale = (c: Accuracies): Accuracies => ({ clean: c.clean / n, linf: c.linf / n, l1: c.l1 / n, union: c.union / n });
  return per.map((s) => ({ fInf: scale(s.cInf), f1: scale(s.c1) }));
}

/** Standard error of an accuracy estimated from n samples, √(q(1−q)/n) (taken at the exact q). */
export const standardError = (q: number, n: number): number => Math.sqrt((q * (1 - q)) / n);

// ---- best union over linear classifiers ----

export interface UnionOptimum {
  union: number;
  /** The weights (a on x0, b on each weak feature; k weak features used), no bias. */
  a: number;
  b: number;
  k: number;
}

/** Maximises f over t ∈ [lo, hi]: a grid of `grid` points, then golden-section search around the best one. */
function maximize1d(f: (t: number) => number, lo: number, hi: number, grid: number): { t: number; value: number } {
  let bestT = lo, best = f(lo);
  const step = (hi - lo) / grid;
  for (let i = 1; i <= grid; i++) {
    const t = lo + i * step, v = f(t);
    if (v > best) [best, bestT] = [v, t];
  }
  let l = Math.max(lo, bestT - step), r = Math.min(hi, bestT + step);
  const g = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 80; it++) {
    const m1 = r - g * (r - l), m2 = l + g * (r - l);
    if (f(m1) >= f(m2)) r = m2;
    else l = m1;
  }
  const t = (l + r) / 2, v = f(t);
  return v > best ? { t, value: v } : { t: bestT, value: best };
}

/**
 * The best union accuracy over w = (a, b·1) (the symmetric family), by a 1-D search over the
 * direction (a, b) = (cos t, sin t), t ∈ [0, π). Exact accuracies at every point.
 */
export function bestSymmetricUnion(task: GaussianTask, grid = 20000): UnionOptimum {
  const f = (t: number): number => exactAccuracies(task, blockSummary(Math.cos(t), Math.sin(t), task.d)).union;
  const { t, value } = maximize1d(f, 0, Math.PI, grid);
  return { union: value, a: Math.cos(t), b: Math.sin(t), k: task.d };
}

export interface GeneralOptimum {
  union: number;
  /** Weight of x0, with ‖v‖∞ = 1. */
  a: number;
  /** ‖v‖₁ = Σv (v ≥ 0). */
  l1: number;
  /** ‖v‖₂². */
  sumSq: number;
}

/**
 * The best union accuracy over every linear classifier without bias, by a numerical search over
 * the statistics it depends on. Reduction (exact): a ≥ 0 and v ≥ 0 lose nothing (p ≥ ½; flipping a
 * negative weight lowers the margin's mean and keeps its variance and norms); the scale is free, so
 * ‖v‖∞ = 1 (v = 0 is f∞'s family, union 0). Then Σv = L ∈ [1, d], and ‖v‖₂² = Q ranges exactly
 * over [1 + (L−1)²/(d−1), ⌊L⌋ + (L−⌊L⌋)²] (every value in between is reached by some v). The
 * search: a grid over (a, L, Q) (a log-spaced in [0.01, 100] and 0, L log-spaced, Q log-spaced in
 * its range), then coordinate-wise golden-section refinement around the best point and exact
 * searches over the blocks of k unit weights near it (the kinks of Q's range). A numerical
 * maximum (not a certificate); the tests check it against classifiers drawn at random.
 * NOTE: a bias is left out: with a large bias the classifier is constant and every perturbation
 * leaves it at 50 % (more than any bias-free linear classifier here).
 */
export function bestUnbiasedUnion(task: GaussianTask, grid = { a: 80, l: 80, q: 12 }): GeneralOptimum {
  const d = task.d;
  const qRange = (L: number): [number, number] => {
    const fl = Math.min(Math.floor(L), d);
    return [1 + (L - 1) ** 2 / Math.max(1, d - 1), fl + (L - fl) ** 2];
  };
  // Coordinates in [0, 1]: a = 0 at u = 0, else log-spaced; L log-spaced; Q log-spaced in its range.
  const decode = (u: number, l: number, q: number): [number, number, number] => {
    const a = u <= 0 ? 0 : Math.exp(Math.log(0.01) + u * Math.log(1e4));
    const L = Math.exp(l * Math.log(d));
    const [q0, q1] = qRange(L);
    return [a, L, q0 * Math.pow(q1 / q0, q)];
  };
  const value = (c: number[]): number => {
    const [a, L, Q] = decode(c[0], c[1], c[2]);
    return exactAccuracies(task, { a, sum: L, sumSq: Q, l1: L, linf: 1, bias: 0 }).union;
  };
  const n = [grid.a, grid.l, grid.q];
  let best = [0, 0, 0], bestV = -1;
  for (let i = 0; i <= n[0]; i++) for (let j = 0; j <= n[1]; j++) for (let k = 0; k <= n[2]; k++) {
    const c = [i / n[0], j / n[1], k / n[2]], v = value(c);
    if (v > bestV) [bestV, best] = [v, c];
  }
  for (let round = 0; round < 4; round++) {
    for (let axis = 0; axis < 3; axis++) {
      const h = 1 / n[axis];
      const f = (t: number): number => value(best.map((c, i) => (i === axis ? t : c)));
      const r = maximize1d(f, Math.max(0, best[axis] - h), Math.min(1, best[axis] + h), 8);
      if (r.value > bestV) {
        bestV = r.value;
        best = best.map((c, i) => (i === axis ? r.t : c));
      }
    }
  }
  let [a, L, Q] = decode(best[0], best[1], best[2]);
  // Q's upper end has a kink at every integer L (k weights of 1: Q = L = k), where the optimum tends
  // to sit (more variance helps): search those blocks near the best L exactly, a by a 1-D search.
  for (let k = Math.max(1, Math.floor(L / 2)); k <= Math.min(d, Math.ceil(2 * L)); k++) {
    const f = (u: number): number => exactAccuracies(task, blockSummary(decode(u, 0, 0)[0], 1, k)).union;
    const r = maximize1d(f, 0, 1, 200);
    if (r.value > bestV) [bestV, a, L, Q] = [r.value, decode(r.t, 0, 0)[0], k, k];
  }
  return { union: bestV, a, l1: L, sumSq: Q };
}

// ---- the exact attacks as batch attacks for training (src/experiments/linear_train.ts) ----

/** Rows + the exact worst-case L∞ perturbation −ε·y·sign(w) (no box: the features are unbounded). */
export function linfAttack(eps: number): LinearAttack {
  return (f, xb, yb, n) => {
    const D = f.w.length, out = new Float32Array(n * D);
    const step = Float64Array.from(f.w, (w) => eps * Math.sign(w));
    for (let i = 0; i < n; i++) {
      const yi = yb[i], row = i * D;
      for (let j = 0; j < D; j++) out[row + j] = xb[row + j] - yi * step[j];
    }
    return out;
  };
}

/** Rows + the exact worst-case L1 perturbation: −ε·y·sign(w_j) on one coordinate j of max |w_j|. */
export function l1Attack(eps: number): LinearAttack {
  return (f, xb, yb, n) => {
    const out = Float32Array.from(xb.subarray(0, n * f.w.length));
    let j = 0;
    for (let k = 1; k < f.w.length; k++) if (Math.abs(f.w[k]) > Math.abs(f.w[j])) j = k;
    for (let i = 0; i < n; i++) out[i * f.w.length + j] -= eps * yb[i] * Math.sign(f.w[j]);
    return out;
  };
}
