// Adversarial training of a linear (logistic) binary classifier with the project's autodiff: a
// 2-logit dense layer (src/nn/layers.ts Dense, W (D, 2), b (2)) trained with softmax cross-entropy
// and Adam (src/nn/optim.ts) on batches that an attack rewrites first, as in the reference's
// training loop (paper.md §1.4: only adversarial examples are trained on).
//   Data: x Float32Array (n, D) row-major, y Int8Array of ±1 (class index 1 for +1, 0 for −1).
//   The model's decision: sign(w·x + β) with w = W[:, 1] − W[:, 0], β = b1 − b0 (linearWeights).
// Strategies (paper.md §1.4): 'nat' (no attack), 'single' (one attack), 'avg' (train on every
//   attack's batch, concatenated: the batch grows K×), 'max' (per example, keep the attack whose
//   example has the highest cross-entropy, i.e. the smallest margin y(w·x' + β)).
// Attacks are plain functions of the current weights (computed outside the tape, as PGD's output is
//   a constant to the parameter update: Danskin's theorem); the experiments pass exact linear-model
//   attacks (src/experiments/gaussian.ts) or a rotation-translation grid search (rt.ts).
// Deterministic: seeded initialisation (glorot) and a seeded shuffle per epoch.
import { backward } from '../autograd.ts';
import { Dense } from '../nn/layers.ts';
import { Rng } from '../nn/init.ts';
import { Adam } from '../nn/optim.ts';
import { piecewiseLinear } from '../nn/schedule.ts';
import { mean, softmaxCrossEntropy } from '../ops/index.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';

export interface LinearWeights {
  w: Float64Array;
  bias: number;
}

/** An attack: adversarial rows for the batch (xb, yb) of n rows against the current weights. */
export type LinearAttack = (f: LinearWeights, xb: Float32Array, yb: Int8Array, n: number) => Float32Array;

export type Strategy = 'nat' | 'single' | 'avg' | 'max';

export interface TrainOptions {
  strategy: Strategy;
  /** The attacks ('single' uses attacks[0]; 'nat' none). */
  attacks: LinearAttack[];
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
}

/** w = W[:, 1] − W[:, 0], β = b1 − b0 of a 2-logit dense layer. */
export function linearWeights(layer: Dense): LinearWeights {
  const W = layer.weight.view(), b = layer.bias.view();
  const D = layer.inFeatures;
  const w = new Float64Array(D);
  for (let j = 0; j < D; j++) w[j] = W[2 * j + 1] - W[2 * j];
  return { w, bias: b[1] - b[0] };
}

/** Margins y(w·x + β) of n rows of width D. */
export function rowMargins(f: LinearWeights, xb: Float32Array, yb: Int8Array, n: number): Float64Array {
  const D = f.w.length, m = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let z = f.bias;
    for (let j = 0; j < D; j++) z += f.w[j] * xb[i * D + j];
    m[i] = yb[i] * z;
  }
  return m;
}

/** The rows the strategy trains on for one batch, and their labels. */
function adversarialBatch(opts: TrainOptions, f: LinearWeights, xb: Float32Array, yb: Int8Array, n: number): { x: Float32Array; y: Int8Array } {
  if (opts.strategy === 'nat') return { x: xb, y: yb };
  if (opts.strategy === 'single') return { x: opts.attacks[0](f, xb, yb, n), y: yb };
  const advs = opts.attacks.map((a) => a(f, xb, yb, n));
  const D = f.w.length;
  if (opts.strategy === 'avg') {
    const x = new Float32Array(advs.length * n * D), y = new Int8Array(advs.length * n);
    advs.forEach((a, k) => {
      x.set(a, k * n * D);
      y.set(yb, k * n);
    });
    return { x, y };
  }
  // max: per example the attack with the smallest margin (highest cross-entropy); ties keep the first.
  const ms = advs.map((a) => rowMargins(f, a, yb, n));
  const x = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < advs.length; k++) if (ms[k][i] < ms[best][i]) best = k;
    x.set(advs[best].subarray(i * D, (i + 1) * D), i * D);
  }
  return { x, y: yb };
}

/** Trains a 2-logit dense layer on (x, y) with the strategy; returns the layer and its linear weights. */
export function trainLinear(engine: Engine, x: Float32Array, y: Int8Array, D: number, opts: TrainOptions): { layer: Dense; weights: LinearWeights } {
  const n = y.length;
  if (x.length !== n * D) throw new RangeError(`trainLinear: x has ${x.length} values, expected ${n}·${D}`);
  if (opts.strategy !== 'nat' && opts.attacks.length === 0) throw new RangeError(`trainLinear: strategy '${opts.strategy}' needs at least one attack`);
  const rng = new Rng(opts.seed);
  const layer = new Dense(engine, D, 2, { rng });
  // lr decays linearly to 0 over the run: Adam's steps of ~lr would otherwise keep every weight
  // that the L∞ adversary drives to 0 oscillating at ±lr (d of them add up in ε∞‖w‖₁).
  const steps = opts.epochs * Math.ceil(n / opts.batch);
  const opt = new Adam(layer.parameters(), { lr: piecewiseLinear([[0, opts.lr], [steps, 0]]) });
  const order = Array.from({ length: n }, (_, i) => i);
  const xb = new Float32Array(opts.batch * D), yb = new Int8Array(opts.batch);
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let start = 0; start < n; start += opts.batch) {
      const m = Math.min(opts.batch, n - start);
      for (let r = 0; r < m; r++) {
        const src = order[start + r];
        xb.set(x.subarray(src * D, (src + 1) * D), r * D);
        yb[r] = y[src];
      }
      const f = linearWeights(layer);
      const adv = adversarialBatch(opts, f, xb.subarray(0, m * D), yb.subarray(0, m), m);
      const labels = Int32Array.from(adv.y, (v) => (v > 0 ? 1 : 0));
      engine.arena.scope(() => {
        const input = Tensor.from(engine, adv.x, [labels.length, D]);
        const loss = mean(softmaxCrossEntropy(layer.call(input), labels));
        layer.zeroGrad();
        backward(loss);
        opt.step();
      });
    }
  }
  opt.dispose();
  return { layer, weights: linearWeights(layer) };
}
