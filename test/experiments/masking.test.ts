// experiment:masking (src/experiments/masking.ts): the conv1 flatness bound on hand-made filters
// (off at x, off over the whole L∞ ball ∩ box, padding never perturbed) and against random points
// of the ball; the measures of a model end to end (accuracies recomputed independently, the
// histogram a distribution, gradients zero exactly where the model is flat); bad flags.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logitsAt } from '../../src/attacks/core.ts';
import { main } from '../../src/cli/experiments/masking.ts';
import { conv1Flatness, measureMasking } from '../../src/experiments/masking.ts';
import { Rng } from '../../src/nn/init.ts';
import { saveModel } from '../../src/nn/checkpoint.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import { Tensor } from '../../src/tensor.ts';
import { loadMnist, type ImageDataset } from '../../src/train/data.ts';
import { loadEngine, type Engine } from '../../src/index.ts';
import { UsageError } from '../../src/cli/flags.ts';

const filter = (centre: number): Float32Array => {
  const w = new Float32Array(25);
  w[12] = centre;
  return w;
};

describe('conv1Flatness', () => {
  it('counts responses off at x and off over the whole ball on a one-tap filter', () => {
    // Response at each position = x(position) − 0.5: off for x ≤ 0.5, flat for x + 0.3 ≤ 0.5.
    const x = new Float32Array(784);
    x[10 * 28 + 10] = 0.3; // off, not flat
    x[5 * 28 + 5] = 0.6; // on
    x[0] = 0.1; // off and flat (0.1 + 0.3 < 0.5)
    const r = conv1Flatness(x, 1, filter(1), Float32Array.of(-0.5));
    expect(r).toEqual({ off: 783, flat: 782, total: 784 });
    // A negative tap: response 0.1 − x, off for x ≥ 0.1, flat for x − 0.3 ≥ 0.1.
    const y = new Float32Array(784).fill(0.5);
    y[3] = 0.35; // off, not flat
    y[4] = 0.05; // on
    expect(conv1Flatness(y, 1, filter(-1), Float32Array.of(0.1))).toEqual({ off: 783, flat: 782, total: 784 });
  });

  it('never perturbs the zero padding: a corner tap over the padding is constant', () => {
    const w = new Float32Array(25);
    w[0] = 1; // top-left tap: reads padding at output rows/cols 0 and 1
    const r = conv1Flatness(new Float32Array(784), 1, w, Float32Array.of(-0.29));
    // Inside: 0.3 − 0.29 > 0 → not flat (26·26 positions read a pixel); padding positions stay at −0.29.
    expect(r.flat).toBe(784 - 26 * 26);
  });

  it('a flat response stays off at random points of the ball; a non-flat one turns on at the maximiser', () => {
    const rng = new Rng(3);
    const w = Float32Array.from({ length: 25 }, () => rng.normal() * 0.3);
    const b = Float32Array.of(-1);
    const x = Float32Array.from({ length: 784 }, () => (rng.next() < 0.7 ? 0 : rng.next()));
    const response = (img: Float32Array, oy: number, ox: number) => {
      let s = b[0];
      for (let ky = 0; ky < 5; ky++) for (let kx = 0; kx < 5; kx++) {
        const iy = oy + ky - 2, ix = ox + kx - 2;
        if (iy >= 0 && iy < 28 && ix >= 0 && ix < 28) s += w[ky * 5 + kx] * img[iy * 28 + ix];
      }
      return s;
    };
    let flat = 0;
    const maxi = Float32Array.from(x);
    for (let oy = 0; oy < 28; oy++) {
      for (let ox = 0; ox < 28; ox++) {
        // The maximiser of the response over the ball ∩ box, independently of conv1Flatness.
        for (let ky = 0; ky < 5; ky++) for (let kx = 0; kx < 5; kx++) {
          const iy = oy + ky - 2, ix = ox + kx - 2;
          if (iy >= 0 && iy < 28 && ix >= 0 && ix < 28) maxi[iy * 28 + ix] = w[ky * 5 + kx] > 0 ? Math.min(1, x[iy * 28 + ix] + 0.3) : Math.max(0, x[iy * 28 + ix] - 0.3);
        }
        const isFlat = response(maxi, oy, ox) <= 0;
        flat += +isFlat;
        if (isFlat) {
          for (let t = 0; t < 20; t++) {
            const p = Float32Array.from(x, (v) => Math.min(1, Math.max(0, v + (rng.next() * 2 - 1) * 0.3)));
            expect(response(p, oy, ox)).toBeLessThanOrEqual(1e-6);
          }
        }
        maxi.set(x);
      }
    }
    expect(conv1Flatness(x, 1, w, b).flat).toBe(flat);
    expect(flat).toBeGreaterThan(0);
    expect(flat).toBeLessThan(784);
  });
});

describe('measureMasking', () => {
  let engine: Engine;
  let test: ImageDataset;
  beforeAll(async () => {
    engine = await loadEngine({ threads: 2 });
    test = loadMnist('test');
  });
  afterAll(async () => {
    await engine?.close();
  });

  it('recomputes accuracies independently; the histogram and zero-gradient images make a distribution', () => {
    const model = mnistCnn(engine, 5, { c1: 8, c2: 8, hidden: 32 });
    for (const p of model.parameters()) p.requiresGrad = false;
    model.eval();
    const w = Float32Array.from(model.parameters()[0].toArray());
    const n = 30;
    const s = measureMasking(engine, model, { w: new Float32Array(8 * 25), b: new Float32Array(8) }, test, n, 'random', 'none');
    const z = engine.arena.scope(() => logitsAt(model, Tensor.from(engine, test.images.subarray(0, n * 784), [n, 28, 28, 1])));
    let correct = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < 10; j++) if (z[i * 10 + j] > z[i * 10 + best]) best = j;
      correct += +(best === test.labels[i]);
    }
    expect(s.clean.correct).toBe(correct);
    expect(s.binarised.correct).toBeGreaterThanOrEqual(0);
    expect(s.agreement).toBeGreaterThanOrEqual(0);
    expect(s.agreement).toBeLessThanOrEqual(1);
    expect(s.gradL2Histogram.reduce((a, h) => a + h.share, 0) + s.zeroGradImages / n).toBeCloseTo(1, 12);
    // Zero weights and bias: every conv1 response is 0, i.e. off, and flat over the ball.
    expect(s.conv1Off).toBe(1);
    expect(s.conv1FlatLinf).toBe(1);
    expect(w.length).toBeGreaterThan(0);
    model.dispose();
  });

  it('a model whose conv1 is switched off everywhere has zero input gradients on every pixel', () => {
    const model = mnistCnn(engine, 5, { c1: 8, c2: 8, hidden: 32 });
    const [cw, cb] = model.parameters();
    cw.view().fill(0.01);
    cb.view().fill(-10);
    for (const p of model.parameters()) p.requiresGrad = false;
    model.eval();
    const s = measureMasking(engine, model, { w: Float32Array.from(cw.toArray()), b: Float32Array.from(cb.toArray()) }, test, 20, 'off', 'none');
    expect(s.zeroGradPixels).toBe(1);
    expect(s.zeroGradImages).toBe(20);
    expect(s.conv1FlatLinf).toBe(1);
    expect(s.agreement).toBe(1);
    model.dispose();
  });

  it('writes the JSON, SVG and table for checkpoints; bad flags are UsageErrors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'masking-'));
    const path = join(dir, 'm.safetensors');
    const model = mnistCnn(engine, 1);
    saveModel(path, model);
    model.dispose();
    expect(await main(['--checkpoints', `tiny=${path}`, '--n', '10', '--out', dir, '--threads', '1'])).toBe(0);
    const j = JSON.parse(readFileSync(join(dir, 'masking-checkpoints.json'), 'utf8'));
    expect(j.models[0].name).toBe('tiny');
    expect(j.models[0].n).toBe(10);
    expect(readFileSync(join(dir, 'masking-checkpoints.svg'), 'utf8')).toMatch(/^<svg/);
    expect(readFileSync(join(dir, 'masking-checkpoints.md'), 'utf8')).toMatch(/\| tiny \| /);
    await expect(main(['--checkpoints', 'nopath'])).rejects.toThrow(/expected NAME=PATH/);
    await expect(main(['--checkpoints', `x=${dir}/missing.safetensors`])).rejects.toThrow(/no such checkpoint/);
    await expect(main(['--models', 'nope'])).rejects.toThrow(UsageError);
    await expect(main(['--n', '0'])).rejects.toThrow(UsageError);
  });
});
