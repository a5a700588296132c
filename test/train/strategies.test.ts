// The multi-perturbation training strategies and the training loop (src/train/strategies.ts,
// src/train/train.ts) on a narrow CNN (4, 8, 32) and MNIST subsets: every strategy lowers the
// loss; max picks the highest-CE attack per example; sampled draws with the stated
// probabilities; MSD stays inside the union of the balls; start-small scales the budgets; a run
// stopped mid-epoch and resumed ends bit-identical to an uninterrupted one. Threads: the
// engine's pool.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAttack } from '../../src/attacks/attack.ts';
import { parseAttack } from '../../src/attacks/parse.ts';
import { Rng } from '../../src/nn/init.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import { Tensor } from '../../src/tensor.ts';
import { loadMnist } from '../../src/train/data.ts';
import { argmaxCe, msdAttack, sampleAttack, samplingProbabilities, scaleToken, strategyBatch, newSamplerState, type Strategy } from '../../src/train/strategies.ts';
import { trainingAttacks, trainModel, type TrainOptions } from '../../src/train/train.ts';
import { engineFor } from '../_helpers/engine.ts';

const WIDTHS = { c1: 4, c2: 8, hidden: 32 };
const D = 784;

describe('training strategies (narrow CNN, MNIST subsets)', async () => {
  const engine = await engineFor('simd');
  const full = loadMnist('train');
  const sub = (n: number, from = 0) => ({ ...full, n, images: full.images.subarray(from * D, (from + n) * D), labels: full.labels.subarray(from, from + n) });
  const base: TrainOptions = { strategy: 'none', attacks: [], epochs: 3, batch: 50, seed: 3, lr: 5e-3, widths: WIDTHS, attackSteps: 3 };
  const NORMS = ['linf:0.05', 'l2:0.5', 'l1:2'];

  it.each<[Strategy, string[]]>([
    ['none', []], ['single', ['linf:0.05']], ['avg', NORMS], ['max', NORMS], ['alternate', NORMS], ['msd', NORMS], ['sampled', NORMS],
  ])('%s: the training loss falls over 3 epochs of 8 steps', (strategy, attacks) => {
    const r = trainModel(engine, { ...base, strategy, attacks }, sub(400));
    expect(r.epochs).toHaveLength(3);
    expect(r.steps).toBe(24);
    expect(r.epochs[2].loss).toBeLessThan(r.epochs[0].loss - 0.1);
    if (strategy === 'none') expect(r.epochs[0].advAcc).toBeNull();
    else {
      expect(r.epochs[2].advAcc).not.toBeNull();
      expect(r.epochs[2].gradEvalsPerImage).toBeGreaterThan(0);
    }
    r.model.dispose();
  });

  it('argmaxCe: the largest cross-entropy per example, the first on ties, never NaN (hand-checked)', () => {
    const a = Float64Array.from([0.5, 2.0, 1.0, NaN]);
    const b = Float64Array.from([0.7, 1.0, 1.0, 0.1]);
    const c = Float64Array.from([0.6, 3.0, 0.2, 0.05]);
    expect(Array.from(argmaxCe([a, b, c]))).toEqual([1, 2, 0, 1]);
  });

  it('max trains each example on the output of the attack with the highest cross-entropy', () => {
    const model = mnistCnn(engine, 1, WIDTHS);
    const attacks = ['linf:0.2', 'l2:1.5', 'l1:6'].map((t, k) => parseAttack(t, { steps: 3, restarts: 1, seed: 10 + k }));
    const B = 20, x = full.images.slice(0, B * D), y = Int32Array.from(full.labels.subarray(0, B));
    const ids = Int32Array.from({ length: B }, (_, i) => 100 + i);
    engine.arena.scope(() => {
      const x0 = Tensor.from(engine, x, [B, 28, 28, 1]);
      const alone = attacks.map((a) => runAttack(a, { engine, model, x0, y, ids }, { earlyStop: false }));
      const tb = strategyBatch('max', { engine, model, x0, y, ids, attacks, step: 0, rng: new Rng(0), sampler: newSamplerState(3) });
      expect(tb.x.shape).toEqual([B, 28, 28, 1]);
      const picks = new Set<number>();
      for (let i = 0; i < B; i++) {
        const k = tb.source[i];
        picks.add(k);
        for (let j = 0; j < 3; j++) expect(alone[k].ce[i]).toBeGreaterThanOrEqual(alone[j].ce[i]);
        expect(tb.x.view().subarray(i * D, (i + 1) * D)).toEqual(alone[k].adv.view().subarray(i * D, (i + 1) * D));
      }
      expect(picks.size, 'more than one attack wins somewhere').toBeGreaterThan(1);
      expect(tb.gradEvals).toBe(alone.reduce((s, r) => s + r.gradEvals, 0));
    });
    model.dispose();
  });

  it('avg concatenates every attack\'s batch (K·B rows, labels repeated)', () => {
    const model = mnistCnn(engine, 1, WIDTHS);
    const attacks = ['linf:0.2', 'l1:6'].map((t, k) => parseAttack(t, { steps: 2, restarts: 1, seed: k }));
    const B = 8, y = Int32Array.from(full.labels.subarray(0, B)), ids = Int32Array.from({ length: B }, (_, i) => i);
    engine.arena.scope(() => {
      const x0 = Tensor.from(engine, full.images.slice(0, B * D), [B, 28, 28, 1]);
      const tb = strategyBatch('avg', { engine, model, x0, y, ids, attacks, step: 0, rng: new Rng(0), sampler: newSamplerState(2) });
      expect(tb.x.shape).toEqual([2 * B, 28, 28, 1]);
      expect(Array.from(tb.y)).toEqual([...y, ...y]);
      expect(Array.from(tb.source)).toEqual([...new Array(B).fill(0), ...new Array(B).fill(1)]);
      const second = runAttack(attacks[1], { engine, model, x0, y, ids }, { earlyStop: false });
      expect(tb.x.view().subarray(B * D)).toEqual(second.adv.view());
    });
    model.dispose();
  });

  it('sampled: probabilities ∝ 1 − running robust accuracy; 30,000 draws match them (χ², fixed seed)', () => {
    expect(samplingProbabilities(newSamplerState(3))).toEqual([1 / 3, 1 / 3, 1 / 3]);
    const s = { correct: [80, 50, 0], seen: [100, 100, 100] };
    const p = samplingProbabilities(s);
    [0.2 / 1.7, 0.5 / 1.7, 1 / 1.7].forEach((v, k) => expect(p[k]).toBeCloseTo(v, 12));
    expect(samplingProbabilities({ correct: [10, 10], seen: [10, 10] })).toEqual([0.5, 0.5]);
    const rng = new Rng(7), N = 30000, counts = [0, 0, 0];
    for (let i = 0; i < N; i++) counts[sampleAttack(s, rng)]++;
    const chi2 = counts.reduce((acc, c, k) => acc + (c - N * p[k]) ** 2 / (N * p[k]), 0);
    expect(chi2, `counts ${counts}`).toBeLessThan(13.8); // χ²(2) at p = 0.001
    expect(counts[0]).toBeGreaterThan(0);
  });

  it('sampled: one attack per batch, and its running accuracy is updated', () => {
    const model = mnistCnn(engine, 1, WIDTHS);
    const attacks = ['linf:0.2', 'l1:6'].map((t, k) => parseAttack(t, { steps: 2, restarts: 1, seed: k }));
    const B = 10, y = Int32Array.from(full.labels.subarray(0, B)), ids = Int32Array.from({ length: B }, (_, i) => i);
    const sampler = newSamplerState(2), rng = new Rng(4), expectRng = new Rng(4);
    engine.arena.scope(() => {
      const x0 = Tensor.from(engine, full.images.slice(0, B * D), [B, 28, 28, 1]);
      for (let step = 0; step < 4; step++) {
        const want = sampleAttack(structuredClone(sampler), expectRng);
        const tb = strategyBatch('sampled', { engine, model, x0, y, ids, attacks, step, rng, sampler });
        expect(new Set(tb.source)).toEqual(new Set([want]));
        expect(tb.gradEvals).toBe(2 * B);
      }
    });
    expect(sampler.seen[0] + sampler.seen[1]).toBe(4 * B);
    model.dispose();
  });

  it('msd: one gradient per iteration; every point lies in one of the balls and in the box; the loss rises', () => {
    const model = mnistCnn(engine, 2, WIDTHS);
    const attacks = ['linf:0.3', 'l2:2', 'l1:10'].map((t) => parseAttack(t, { steps: 5, restarts: 1 }));
    const B = 16, x = full.images.slice(0, B * D), y = Int32Array.from(full.labels.subarray(0, B));
    engine.arena.scope(() => {
      const x0 = Tensor.from(engine, x, [B, 28, 28, 1]);
      const { track, gradEvals, forwards } = msdAttack(engine, model, x0, y, attacks);
      expect(gradEvals).toBe(5 * B);
      expect(forwards).toBe((5 * 3 + 1) * B);
      const adv = track.adv.view();
      for (let i = 0; i < B; i++) {
        let l1 = 0, l2 = 0, li = 0;
        for (let j = i * D; j < (i + 1) * D; j++) {
          expect(adv[j]).toBeGreaterThanOrEqual(0);
          expect(adv[j]).toBeLessThanOrEqual(1);
          const d = Math.abs(adv[j] - x[j]);
          l1 += d; l2 += d * d; li = Math.max(li, d);
        }
        expect(li <= 0.3 + 1e-5 || Math.sqrt(l2) <= 2 + 1e-4 || l1 <= 10 + 1e-3, `row ${i}: l1 ${l1} l2 ${Math.sqrt(l2)} linf ${li}`).toBe(true);
      }
      const clean = runAttack(parseAttack('linf:0', { steps: 0 }), { engine, model, x0, y, ids: new Int32Array(B) }, { earlyStop: false });
      const meanCe = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
      expect(meanCe(track.ce)).toBeGreaterThan(meanCe(clean.ce) + 0.05);
    });
    model.dispose();
  });

  it('start-small scales every budget; bad strategies and attack lists are errors', () => {
    expect(scaleToken('linf:0.3', 1 / 3)).toBe(`linf:${0.3 / 3}`);
    expect(scaleToken('l1:12:steps=5:perc=80-99', 0.5)).toBe('l1:6:steps=5:perc=80-99');
    expect(scaleToken('rtrandom', 1 / 3)).toBe('rtrandom:1:10');
    expect(scaleToken('affine(linf:0.3+l1:9):beta=0.5', 1 / 3)).toBe(`affine(linf:${0.3 / 3}+l1:3):beta=0.5`);
    const small = trainingAttacks({ strategy: 'max', attacks: ['linf:0.3', 'l2:2'], seed: 0 }, 1 / 3);
    small.map((a) => a.eps).forEach((e, k) => expect(e).toBeCloseTo([0.1, 2 / 3][k], 12));
    expect(trainingAttacks({ strategy: 'max', attacks: ['linf:0.3', 'l1:10'], affine: true, seed: 0 }).map((a) => a.threat)).toEqual(['Linf', 'L1', 'affine']);
    expect(() => trainingAttacks({ strategy: 'single', attacks: ['linf:0.3', 'l2:2'], seed: 0 })).toThrow(/exactly one/);
    expect(() => trainingAttacks({ strategy: 'msd', attacks: ['linf:0.3', 'rtrandom'], seed: 0 })).toThrow(/not a norm attack/);
    expect(() => trainingAttacks({ strategy: 'bogus' as Strategy, attacks: ['linf:0.3'], seed: 0 })).toThrow(/unknown strategy 'bogus'/);
    expect(() => trainingAttacks({ strategy: 'max', attacks: [], seed: 0 })).toThrow(/at least one attack/);
  });

  it('start-small: the first epoch trains exactly as with the ε/3 tokens, the second with ε', () => {
    const opts = { ...base, strategy: 'max' as const, attacks: ['linf:0.3', 'l1:9'], epochs: 2, attackSteps: 2 };
    const data = sub(100);
    const small = trainModel(engine, { ...opts, startSmall: true, stopAfterEpoch: 1 }, data);
    const scaled = trainModel(engine, { ...opts, attacks: [`linf:${0.3 / 3}`, 'l1:3'], stopAfterEpoch: 1 }, data);
    expect(small.epochs[0].loss).toBe(scaled.epochs[0].loss);
    small.model.parameters().forEach((p, i) => expect(scaled.model.parameters()[i].toArray()).toEqual(p.toArray()));
    const twoSmall = trainModel(engine, { ...opts, startSmall: true }, data);
    const twoScaled = trainModel(engine, { ...opts, attacks: [`linf:${0.3 / 3}`, 'l1:3'] }, data);
    expect(twoSmall.epochs[1].loss, 'epoch 2 uses the full budgets').not.toBe(twoScaled.epochs[1].loss);
    expect(twoSmall.epochs[1].advAcc!).toBeLessThan(twoScaled.epochs[1].advAcc!);
    for (const r of [small, scaled, twoSmall, twoScaled]) r.model.dispose();
  });

  it.each<Strategy>(['sampled', 'max'])('%s: stopped mid-epoch and resumed from the state file, ends bit-identical', (strategy) => {
    const dir = mkdtempSync(join(tmpdir(), 'train-resume-'));
    const opts: TrainOptions = { ...base, strategy, attacks: NORMS, epochs: 2, batch: 40, startSmall: true, attackSteps: 2 };
    const data = sub(200);
    const whole = trainModel(engine, opts, data);
    const statePath = join(dir, 'state.safetensors');
    const first = trainModel(engine, { ...opts, statePath, stopAfterStep: 3 }, data);
    expect(first.steps).toBe(3);
    first.model.dispose();
    const second = trainModel(engine, { ...opts, statePath, resume: true, stopAfterStep: 7 }, data);
    expect(second.steps).toBe(7);
    second.model.dispose();
    const resumed = trainModel(engine, { ...opts, statePath, resume: true }, data);
    expect(resumed.steps).toBe(10);
    expect(resumed.epochs.at(-1)!.loss).toBe(whole.epochs.at(-1)!.loss);
    whole.model.parameters().forEach((p, i) => expect(resumed.model.parameters()[i].toArray()).toEqual(p.toArray()));
    whole.model.dispose();
    resumed.model.dispose();
  });
});
