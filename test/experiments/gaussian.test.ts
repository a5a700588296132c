// The Gaussian MEP task (src/experiments/gaussian.ts): the paper's closed forms against the general
// exact formula and against Monte Carlo (the acceptance run: d = 1000, α ∈ {1, 2, 3}, p ∈ {0.6,
// 0.7, 0.9}, 100k samples, 3 standard errors); the exact linear attacks against projected gradient
// ascent and random feasible perturbations (src/perturb.ts's exact L1 projection); the general exact
// accuracies against a sample; the best-union searches against brute-force grids and random
// classifiers.
import { describe, expect, it } from 'vitest';
import {
  bestSymmetricUnion, bestUnbiasedUnion, blockSummary, budgets, closedFormF1, closedFormFInf, empiricalAccuracies, exactAccuracies,
  f1, fInf, l1Attack, linfAttack, margins, monteCarlo, Phi, sample, standardError, summarize, worstL1, worstLinf,
  type Accuracies, type GaussianTask,
} from '../../src/experiments/gaussian.ts';
import { Rng } from '../../src/nn/init.ts';
import { projectL1 } from '../../src/perturb.ts';

const KEYS = ['clean', 'linf', 'l1', 'union'] as const;
const SETTINGS: GaussianTask[] = [];
for (const alpha of [1, 2, 3]) for (const p of [0.6, 0.7, 0.9]) SETTINGS.push({ d: 1000, alpha, p });

function z(exact: Accuracies, est: Accuracies, n: number): number {
  let worst = 0;
  for (const k of KEYS) {
    const se = standardError(exact[k], n), diff = Math.abs(est[k] - exact[k]);
    worst = Math.max(worst, se > 0 ? diff / se : diff === 0 ? 0 : Infinity);
  }
  return worst;
}

describe('normal CDF', () => {
  it('matches tabulated values', () => {
    expect(Phi(0)).toBeCloseTo(0.5, 7);
    expect(Phi(1)).toBeCloseTo(0.841344746, 6);
    expect(Phi(-2)).toBeCloseTo(0.022750132, 7);
    expect(Phi(-3) / 0.001349898).toBeCloseTo(1, 5);
  });
});

describe('closed forms', () => {
  it("the paper's expressions for f∞ and f1 equal the general exact formula", () => {
    for (const t of SETTINGS) {
      const a = exactAccuracies(t, fInf(t)), ca = closedFormFInf(t);
      const b = exactAccuracies(t, f1(t)), cb = closedFormF1(t);
      for (const k of KEYS) {
        expect(a[k]).toBeCloseTo(ca[k], 9);
        expect(b[k]).toBeCloseTo(cb[k], 9);
      }
      // The mechanism: f∞ keeps p under L∞ and loses everything to L1; f1 the reverse.
      expect(ca).toEqual({ clean: t.p, linf: t.p, l1: 0, union: 0 });
      expect(cb.l1).toBeGreaterThan(0.8);
      expect(cb.linf).toBeLessThan(0.16);
    }
  });

  it('agree with Monte Carlo on 100k samples within 3 standard errors (acceptance 1)', () => {
    const n = 100_000;
    const mc = monteCarlo(SETTINGS, n, 1);
    SETTINGS.forEach((t, i) => {
      expect(z(closedFormFInf(t), mc[i].fInf, n), `f∞ at α=${t.alpha}, p=${t.p}`).toBeLessThanOrEqual(3);
      expect(z(closedFormF1(t), mc[i].f1, n), `f1 at α=${t.alpha}, p=${t.p}`).toBeLessThanOrEqual(3);
    });
  });

  it('the general exact accuracies of an arbitrary biased linear classifier match a sample under the exact attacks', () => {
    const t: GaussianTask = { d: 60, alpha: 1.5, p: 0.75 };
    const rng = new Rng(5);
    const w = Float64Array.from({ length: t.d + 1 }, (_, j) => (j === 0 ? 0.8 : 0.05 + 0.2 * rng.next()));
    const bias = 0.1;
    const { epsInf, eps1 } = budgets(t);
    const exact = exactAccuracies(t, summarize({ a: w[0], v: w.subarray(1), bias }));
    const n = 40_000;
    const emp = empiricalAccuracies(sample(t, n, 6), w, bias, epsInf, eps1);
    expect(z(exact, emp, n)).toBeLessThan(4);
    expect(exact.union).toBeLessThan(Math.min(exact.linf, exact.l1) + 1e-12);
  });
});

describe('exact linear attacks', () => {
  const t: GaussianTask = { d: 24, alpha: 2, p: 0.7 };
  const { epsInf, eps1 } = budgets(t);
  const data = sample(t, 8, 3);
  const rng = new Rng(9);
  const w = Float64Array.from({ length: t.d + 1 }, () => rng.normal());
  const dual = { linf: w.reduce((s, v) => s + Math.abs(v), 0), l1: Math.max(...Array.from(w, Math.abs)) };
  const clean = margins(data, w, 0);
  const marginOf = (i: number, delta: ArrayLike<number>): number => {
    let zz = 0;
    for (let j = 0; j < w.length; j++) zz += w[j] * (data.x[i * data.dim + j] + delta[j]);
    return data.y[i] * zz;
  };

  it('are feasible and lower the margin by ε·‖w‖₁ (L∞) and ε·‖w‖∞ (L1)', () => {
    for (let i = 0; i < data.n; i++) {
      const dInf = worstLinf(w, data.y[i], epsInf), d1 = worstL1(w, data.y[i], eps1);
      expect(Math.max(...Array.from(dInf, Math.abs))).toBeLessThanOrEqual(epsInf + 1e-12);
      expect(d1.reduce((s, v) => s + Math.abs(v), 0)).toBeLessThanOrEqual(eps1 + 1e-12);
      expect(marginOf(i, dInf)).toBeCloseTo(clean[i] - epsInf * dual.linf, 4);
      expect(marginOf(i, d1)).toBeCloseTo(clean[i] - eps1 * dual.l1, 4);
    }
  });

  it('projected gradient descent on the margin (exact L1 projection) and random feasible points never do better', async () => {
    const batch = data.n, D = data.dim;
    const start = new Float32Array(batch * D).map(() => rng.uniform(-1, 1) * 0.05);
    let dInf = start.slice(), d1 = await projectL1(start.slice(), eps1, batch);
    for (let step = 0; step < 300; step++) {
      const lr = 0.05 / Math.sqrt(step + 1);
      for (let i = 0; i < batch; i++) for (let j = 0; j < D; j++) {
        const g = data.y[i] * w[j]; // ∂ margin / ∂δ_j: descend it
        dInf[i * D + j] = Math.min(epsInf, Math.max(-epsInf, dInf[i * D + j] - lr * g));
        d1[i * D + j] -= 10 * lr * g;
      }
      d1 = await projectL1(d1, eps1, batch);
    }
    for (let i = 0; i < batch; i++) {
      const exactInf = marginOf(i, worstLinf(w, data.y[i], epsInf)), exact1 = marginOf(i, worstL1(w, data.y[i], eps1));
      const pgdInf = marginOf(i, dInf.subarray(i * D, (i + 1) * D)), pgd1 = marginOf(i, d1.subarray(i * D, (i + 1) * D));
      expect(pgdInf).toBeGreaterThanOrEqual(exactInf - 1e-4);
      expect(pgd1).toBeGreaterThanOrEqual(exact1 - 1e-4);
      // PGD gets (close to) the same value: the exact attack is the optimum, not just a bound.
      expect(pgdInf - exactInf).toBeLessThan(0.05 * Math.abs(exactInf) + 0.05);
      expect(pgd1 - exact1).toBeLessThan(0.05 * Math.abs(exact1) + 0.05);
      for (let r = 0; r < 200; r++) {
        const u = Float64Array.from({ length: D }, () => rng.uniform(-epsInf, epsInf));
        expect(marginOf(i, u)).toBeGreaterThanOrEqual(exactInf - 1e-9);
        const v = Float64Array.from({ length: D }, () => rng.normal());
        const l1 = v.reduce((s, x) => s + Math.abs(x), 0);
        expect(marginOf(i, v.map((x) => (x * eps1) / l1))).toBeGreaterThanOrEqual(exact1 - 1e-9);
      }
    }
  });

  it('the batch attacks used for training give the same perturbations', () => {
    const f = { w, bias: 0 };
    const xi = linfAttack(epsInf)(f, data.x, data.y, data.n), x1 = l1Attack(eps1)(f, data.x, data.y, data.n);
    for (let i = 0; i < data.n; i++) {
      const dInf = worstLinf(w, data.y[i], epsInf), d1 = worstL1(w, data.y[i], eps1);
      for (let j = 0; j < data.dim; j++) {
        expect(xi[i * data.dim + j]).toBeCloseTo(data.x[i * data.dim + j] + dInf[j], 5);
        expect(x1[i * data.dim + j]).toBeCloseTo(data.x[i * data.dim + j] + d1[j], 5);
      }
    }
  });
});

describe('best union over linear classifiers', () => {
  it('the 1-D search over w = (a, b·1) matches a brute-force 2-D grid over (a, b)', () => {
    for (const t of [SETTINGS[1], SETTINGS[5], SETTINGS[6]]) {
      const best = bestSymmetricUnion(t);
      expect(best.union).toBeCloseTo(exactAccuracies(t, blockSummary(best.a, best.b, t.d)).union, 12);
      let brute = 0;
      for (let i = -100; i <= 100; i++) for (let k = 0; k <= 400; k++) {
        // a ∈ [−1, 1], b ∈ [0, 0.1] (b/a beyond 0.1 only loses: checked by the coarse row below)
        brute = Math.max(brute, exactAccuracies(t, blockSummary(i / 100, (k / 400) * 0.1, t.d)).union);
      }
      for (let k = 1; k <= 100; k++) brute = Math.max(brute, exactAccuracies(t, blockSummary(1, k / 10, t.d)).union);
      expect(best.union).toBeGreaterThanOrEqual(brute - 1e-12);
      expect(best.union - brute).toBeLessThan(0.01);
    }
  });

  it('the search over all bias-free linear classifiers beats the symmetric family and every random classifier', () => {
    const rng = new Rng(17);
    for (const t of [SETTINGS[0], SETTINGS[4], SETTINGS[8]]) {
      const any = bestUnbiasedUnion(t), sym = bestSymmetricUnion(t);
      expect(any.union).toBeGreaterThan(sym.union + 0.04); // the symmetric family is not optimal
      expect(any.union).toBeLessThan(0.5); // below a constant classifier
      const [qMin, qMax] = [1 + (any.l1 - 1) ** 2 / (t.d - 1), Math.floor(any.l1) + (any.l1 - Math.floor(any.l1)) ** 2];
      expect(any.sumSq).toBeGreaterThanOrEqual(qMin - 1e-9);
      expect(any.sumSq).toBeLessThanOrEqual(qMax + 1e-9);
      for (let r = 0; r < 3000; r++) {
        // Random weights: a sparse or dense, signed or not, scaled at random.
        const k = 1 + rng.int(r % 2 ? 60 : t.d), scale = Math.exp(rng.uniform(-3, 3));
        const v = new Float64Array(t.d);
        for (let j = 0; j < k; j++) v[j] = rng.next() < 0.9 ? rng.uniform(0.5, 1) : rng.uniform(-1, 1);
        const s = summarize({ a: rng.uniform(-0.5, 2) * scale, v: v.map((x) => x * scale), bias: 0 });
        expect(exactAccuracies(t, s).union).toBeLessThanOrEqual(any.union + 1e-9);
      }
    }
  });
});
