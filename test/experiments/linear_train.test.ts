// Adversarial training of the logistic model (src/experiments/linear_train.ts) on a smaller Gaussian
// task (d = 200, α = 2, p = 0.8): each strategy ends where the MEP argument says it must, every
// trained model's union stays at or below the best linear union within sampling error, and the
// exact (population) figures of the learned weights agree with a held-out sample.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bestUnbiasedUnion, budgets, empiricalAccuracies, exactAccuracies, l1Attack, linfAttack, sample, standardError, summarize,
  type Accuracies, type GaussianTask,
} from '../../src/experiments/gaussian.ts';
import { trainLinear, type LinearWeights, type Strategy } from '../../src/experiments/linear_train.ts';
import { loadEngine, type Engine } from '../../src/index.ts';

const task: GaussianTask = { d: 200, alpha: 2, p: 0.8 };
const { epsInf, eps1 } = budgets(task);
const N_TEST = 20_000;
let engine: Engine;
const results = new Map<string, { w: LinearWeights; exact: Accuracies; test: Accuracies }>();

beforeAll(async () => {
  engine = await loadEngine({ threads: 1 });
  const train = sample(task, 3000, 1), test = sample(task, N_TEST, 2);
  const attacks = [linfAttack(epsInf), l1Attack(eps1)];
  const runs: [string, Strategy, typeof attacks][] = [['nat', 'nat', []], ['adv_inf', 'single', [attacks[0]]], ['adv_1', 'single', [attacks[1]]], ['avg', 'avg', attacks], ['max', 'max', attacks]];
  for (const [name, strategy, atk] of runs) {
    const { layer, weights } = trainLinear(engine, train.x, train.y, train.dim, { strategy, attacks: atk, epochs: 10, batch: 100, lr: 0.01, seed: 3 });
    layer.dispose();
    results.set(name, {
      w: weights,
      exact: exactAccuracies(task, summarize({ a: weights.w[0], v: weights.w.subarray(1), bias: weights.bias })),
      test: empiricalAccuracies(test, weights.w, weights.bias, epsInf, eps1),
    });
  }
});

afterAll(async () => {
  await engine?.close();
});

describe('linear adversarial training on the Gaussian task', () => {
  it('Adv∞ keeps only the robust feature (like f∞); Adv1 and Nat rely on the weak ones (like f1)', () => {
    const inf = results.get('adv_inf')!.exact, one = results.get('adv_1')!.exact, nat = results.get('nat')!.exact;
    expect(inf.linf).toBeGreaterThan(task.p - 0.03);
    expect(inf.l1).toBeLessThan(0.02);
    expect(one.l1).toBeGreaterThan(0.85);
    expect(one.linf).toBeLessThan(0.15);
    expect(nat.clean).toBeGreaterThan(0.9);
    expect(nat.linf).toBeLessThan(0.2);
  });

  it('robustness to one type costs the other: avg and max unions stay far below either single-type accuracy', () => {
    const best = Math.min(results.get('adv_inf')!.exact.linf, results.get('adv_1')!.exact.l1);
    for (const m of ['avg', 'max']) expect(results.get(m)!.exact.union).toBeLessThan(best - 0.25);
    // max trades the two evenly (the same attack is the worst for every example of a linear model).
    const max = results.get('max')!.exact;
    expect(Math.abs(max.linf - max.l1)).toBeLessThan(0.05);
    expect(max.union).toBeGreaterThan(results.get('adv_inf')!.exact.union);
  });

  it('every trained model: union ≤ the best bias-free linear union within sampling error (acceptance 2)', () => {
    const bound = bestUnbiasedUnion(task).union;
    for (const [name, r] of results) {
      expect(Math.abs(r.w.bias), `${name}: a small bias, so the bias-free bound applies`).toBeLessThan(0.2);
      expect(r.test.union, name).toBeLessThanOrEqual(bound + 3 * standardError(bound, N_TEST));
      expect(r.exact.union, name).toBeLessThanOrEqual(bound + 1e-3);
    }
  });

  it("the exact figures of the learned weights agree with the held-out sample's", () => {
    for (const [name, r] of results) {
      for (const k of ['clean', 'linf', 'l1', 'union'] as const) {
        expect(Math.abs(r.test[k] - r.exact[k]), `${name} ${k}`).toBeLessThanOrEqual(4 * standardError(r.exact[k], N_TEST) + 1e-9);
      }
    }
  });

  it('is deterministic for a seed', () => {
    const train = sample(task, 500, 1);
    const run = () => trainLinear(engine, train.x, train.y, train.dim, { strategy: 'max', attacks: [linfAttack(epsInf), l1Attack(eps1)], epochs: 2, batch: 100, lr: 0.01, seed: 4 });
    const a = run(), b = run();
    expect(Array.from(a.weights.w)).toEqual(Array.from(b.weights.w));
    a.layer.dispose();
    b.layer.dispose();
  });
});
