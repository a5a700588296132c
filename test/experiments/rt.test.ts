// The L∞-vs-rotation-translation construction (src/experiments/rt.ts): the mechanism through the
// engine's spatialTransform (a one-pixel shift negates the checkerboard, a uniform image keeps its
// value), the hand-built classifiers' figures against their closed forms, and the RT grid attack.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { standardError } from '../../src/experiments/gaussian.ts';
import {
  checker, fChecker, fMean, gridParams, rtAccuracies, rtAttack, rtClosedForms, rtEpsInf, rtGrid, sampleImages, transformRows, type RtTask,
} from '../../src/experiments/rt.ts';
import { Rng } from '../../src/nn/init.ts';
import { loadEngine, type Engine } from '../../src/index.ts';

const task: RtTask = { size: 16, alpha: 2, p: 0.7, contrast: 1 };
let engine: Engine;

beforeAll(async () => {
  engine = await loadEngine({ threads: 1 });
});

afterAll(async () => {
  await engine?.close();
});

describe('L∞ vs RT construction', () => {
  it('a one-pixel translation negates the checkerboard inside the image; a uniform image stays uniform', () => {
    const S = task.size, chi = Float32Array.from(checker(S)), flat = new Float32Array(S * S).fill(0.3);
    const params = Float32Array.from([0, 1, 0, 0, 0, 1, 0.15, 0, 0]); // tx = 1; ty = 1; θ ≈ 8.6°
    const shifted = transformRows(engine, chi, 1, S, params, 3);
    const flatT = transformRows(engine, flat, 1, S, params, 3);
    for (let k = 0; k < 2; k++) {
      for (let i = 1; i < S - 1; i++) for (let j = 1; j < S - 1; j++) {
        expect(shifted[k * S * S + i * S + j]).toBeCloseTo(-chi[i * S + j], 5);
        expect(flatT[k * S * S + i * S + j]).toBeCloseTo(0.3, 5);
      }
    }
    // The rotation blurs the checkerboard away from the centre but keeps the uniform brightness there.
    let chkCorr = 0;
    for (let p = 0; p < S * S; p++) chkCorr += shifted[2 * S * S + p] * chi[p];
    expect(Math.abs(chkCorr)).toBeLessThan(0.5 * S * S);
    expect(flatT[2 * S * S + (S / 2) * S + S / 2]).toBeCloseTo(0.3, 5);
  });

  it('f_chk is L∞-robust and RT-fragile, f_mean the reverse; clean and L∞ match the closed forms', () => {
    const n = 2000, test = sampleImages(task, n, 7), eps = rtEpsInf(task), cf = rtClosedForms(task);
    const chk = rtAccuracies(engine, fChecker(task), test, eps), mean = rtAccuracies(engine, fMean(task), test, eps);
    for (const [est, exact] of [[chk.clean, cf.fChk.clean], [chk.linf, cf.fChk.linf], [mean.clean, cf.fMean.clean], [mean.linf, cf.fMean.linf]]) {
      expect(Math.abs(est - exact)).toBeLessThanOrEqual(4 * standardError(exact, n));
    }
    expect(chk.rt).toBeLessThan(0.01);
    expect(mean.rt).toBeGreaterThan(0.85);
    expect(chk.union).toBeLessThan(0.01);
    expect(mean.union).toBeLessThan(0.05);
  });

  it('the grid attack returns, per example, the grid transform with the smallest margin', () => {
    const n = 20, S = task.size, D = S * S, grid = rtGrid(), data = sampleImages(task, n, 8);
    const rng = new Rng(2);
    const f = { w: Float64Array.from({ length: D }, () => rng.normal()), bias: 0.1 };
    const adv = rtAttack(engine, S)(f, data.x, data.y, n);
    const all = transformRows(engine, data.x, n, S, gridParams(n, grid), grid.length);
    const margin = (x: Float32Array, row: number) => {
      let z = f.bias;
      for (let j = 0; j < D; j++) z += f.w[j] * x[row * D + j];
      return z;
    };
    for (let i = 0; i < n; i++) {
      let worst = Infinity;
      for (let k = 0; k < grid.length; k++) worst = Math.min(worst, data.y[i] * margin(all, i * grid.length + k));
      expect(data.y[i] * margin(adv, i)).toBeCloseTo(worst, 4);
      expect(worst).toBeLessThanOrEqual(data.y[i] * margin(data.x, i) + 1e-4); // the identity is in the grid
    }
    expect(() => rtAttack(engine, S, { tries: 10 })).toThrow(/rng/);
  });
});
