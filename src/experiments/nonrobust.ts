// `npm run experiment:nonrobust` (`multirobust experiment nonrobust`; the command: src/cli/experiments/
// nonrobust.ts): adversarial examples are non-robust features (issue 19; the seed
// talk's thought experiment, Ilyas et al. 2019, "D_det" and "D_rand").
//
// 1. A standard model (src/experiments/models.ts: 1 epoch of standard training, cached, or
//    --standard PATH).
// 2. Every one of the first trainN training images (x, y) gets a new label t: 'next' t = (y + 1)
//    mod 10, or 'random' t drawn uniformly among the 9 classes ≠ y (seeded). No label is correct.
// 3. A targeted PGD (src/attacks/pgd.ts with AttackBatch.targets: L2 and/or L∞ tokens) moves x
//    within its ε-ball ∩ [0, 1] until the standard model classifies it as t.
// 4. A fresh CNN is trained (standard training, no attack) on the perturbed images with labels t
//    only, and scored on the clean, correctly labelled MNIST test set, beside chance (10 %).
// If the new model beats chance, what it learned from "x looks like y, labelled t" is the
// perturbations' imperceptible features of t, and those generalise to clean test images.
//
// Shapes: images (N, 28, 28, 1) NHWC f32 in [0, 1], labels and targets (N) int32. Seeded: the
// targets (Rng(seed + 19)), the attacks' random starts (keyed by training index), the new model's
// initialisation and shuffles (seed + 1); same seed and thread count ⇒ same figures.
//
//   npm run experiment:nonrobust -- [--attacks l2:3,linf:0.2:loss=ce] [--targets next,random] [--steps 10]
//     [--train-n 15000] [--epochs 3] [--test-n 10000] [--standard PATH] [--cache DIR] [--json FILE]
//     [--seed S] [--threads N]
import { runAttack } from '../attacks/attack.ts';
import { parseAttack } from '../attacks/parse.ts';
import { InputError } from '../errors.ts';
import { Rng } from '../nn/init.ts';
import type { Module } from '../nn/module.ts';
import { Tensor } from '../tensor.ts';
import { firstN, loadMnist, type ImageDataset } from '../train/data.ts';
import { accuracy, trainModel } from '../train/train.ts';
import type { Engine } from '../wasm/engine.ts';
import { obtainModel, STANDARD } from './models.ts';
import { pct } from '../report/format.ts';

export const TARGET_RULES = ['next', 'random'] as const;
export type TargetRule = (typeof TARGET_RULES)[number];

export interface NonrobustOptions {
  /** Targeted attack tokens of the PGD family (linf, l2, l1), e.g. 'l2:2', 'linf:0.2:steps=20'. */
  attacks: string[];
  targets: TargetRule[];
  /** Steps of a token that does not set its own. */
  steps: number;
  /** Relabel and perturb the first trainN training images. */
  trainN: number;
  /** Epochs of standard training of the new model on the relabelled set. */
  epochs: number;
  /** Score on the first testN test images. */
  testN: number;
  /** Images per attack batch. */
  batch: number;
  seed: number;
  /** A standard model's checkpoint; else the cached or newly trained one. */
  standard?: string;
  cacheDir: string;
}

export const DEFAULTS: NonrobustOptions = {
  attacks: ['l2:3', 'linf:0.2:loss=ce'], targets: ['next', 'random'], steps: 10, trainN: 15000, epochs: 3, testN: 10000, batch: 100, seed: 0,
  cacheDir: 'runs/experiments',
};

export interface VariantResult {
  attack: string;
  threat: string;
  eps: number;
  steps: number;
  targets: TargetRule;
  /** Fraction of the perturbed training images the standard model classifies as their target. */
  success: number;
  /** The new model: accuracy on its own (relabelled, perturbed) training set in its last epoch. */
  fitAcc: number;
  /** The new model on the clean test set: accuracy with the true labels. */
  testAcc: number;
  /** The new model on the clean test set: fraction predicted as the rule's t(y) ('next' only; null for 'random'). */
  followsRule: number | null;
  attackSeconds: number;
  trainSeconds: number;
}

export interface NonrobustResult {
  standard: { path: string; source: string; testAcc: number; seconds: number };
  variants: VariantResult[];
  trainN: number;
  testN: number;
  seconds: number;
}

/** The new labels: (y + 1) mod K ('next'), or uniform among the K − 1 classes ≠ y ('random', seeded). */
export function relabel(y: Int32Array, rule: TargetRule, seed: number, K = 10): Int32Array {
  if (rule === 'next') return y.map((c) => (c + 1) % K) as Int32Array;
  const rng = new Rng(seed + 19);
  return y.map((c) => (c + 1 + rng.int(K - 1)) % K) as Int32Array;
}

/**
 * The targeted attack on every image of `ds` towards `targets` against `model`, in batches; returns
 * the perturbed images and the fraction classified as their target. ids = index in ds.
 */
export function perturbTowards(engine: Engine, model: Module, ds: ImageDataset, targets: Int32Array, token: string, opts: { steps: number; seed: number; batch: number }, log: (s: string) => void = () => {}): { images: Float32Array; success: number } {
  const attack = parseAttack(token, { steps: opts.steps, restarts: 1, seed: opts.seed });
  const D = ds.height * ds.width * ds.channels;
  const images = new Float32Array(ds.n * D);
  let hits = 0;
  const t0 = performance.now();
  for (let start = 0; start < ds.n; start += opts.batch) {
    const end = Math.min(ds.n, start + opts.batch), B = end - start;
    engine.arena.scope(() => {
      const x0 = Tensor.from(engine, ds.images.subarray(start * D, end * D), [B, ds.height, ds.width, ds.channels]);
      const ids = Int32Array.from({ length: B }, (_, i) => start + i);
      const out = runAttack(attack, { engine, model, x0, y: ds.labels.subarray(start, end), ids, targets: targets.subarray(start, end) }, { earlyStop: false });
      images.set(out.adv.view(), start * D);
      for (const w of out.wrong) hits += w;
    });
    if ((end / opts.batch) % 100 === 0 || end === ds.n) log(`  ${token}: ${end}/${ds.n} images, ${(100 * hits / end).toFixed(1)} % reach their target, ${(end / ((performance.now() - t0) / 1000)).toFixed(0)} images/s`);
  }
  return { images, success: hits / ds.n };
}

/** Fraction of `ds` that `model` classifies as rule(y) (the relabelling applied to the true label). */
function followsNext(engine: Engine, model: Module, ds: ImageDataset): number {
  return accuracy(engine, model, { ...ds, labels: relabel(ds.labels, 'next', 0, ds.classes) });
}


/** Checks every token before any work: a targetable attack of the PGD family. Throws InputError. */
export function checkTokens(tokens: string[], steps: number): void {
  if (!tokens.length) throw new InputError('--attacks: give at least one attack');
  for (const t of tokens) {
    let atk;
    try {
      atk = parseAttack(t, { steps });
    } catch (err) {
      throw new InputError(`--attacks: ${(err as Error).message}`);
    }
    if (!atk.targetable) throw new InputError(`--attacks: '${t}' is not a targeted attack (use linf:EPS, l2:EPS or l1:EPS)`);
  }
}

export function runNonrobust(engine: Engine, opts: NonrobustOptions, log: (s: string) => void = () => {}, data?: { train: ImageDataset; test: ImageDataset }): NonrobustResult {
  checkTokens(opts.attacks, opts.steps);
  const t0 = performance.now();
  const trainAll = data?.train ?? loadMnist('train');
  const test = firstN(data?.test ?? loadMnist('test'), opts.testN);
  const train = firstN(trainAll, opts.trainN);
  const std = obtainModel(engine, STANDARD, { given: opts.standard, cacheDir: opts.cacheDir, seed: opts.seed, train: trainAll, log });
  const standard = { path: std.path, source: std.source, testAcc: accuracy(engine, std.model, test), seconds: std.seconds };
  log(`standard model ${std.path} (${std.source}): ${(100 * standard.testAcc).toFixed(2)} % on ${test.n} test images`);
  const variants: VariantResult[] = [];
  for (const token of opts.attacks) {
    for (const rule of opts.targets) {
      const atk = parseAttack(token, { steps: opts.steps });
      const targets = relabel(train.labels, rule, opts.seed, train.classes);
      const ta = performance.now();
      const { images, success } = perturbTowards(engine, std.model, train, targets, token, opts, log);
      const attackSeconds = (performance.now() - ta) / 1000;
      const tt = performance.now();
      const relabelled: ImageDataset = { ...train, images, labels: targets };
      const { model, epochs } = trainModel(engine, { strategy: 'none', attacks: [], epochs: opts.epochs, batch: 100, seed: opts.seed + 1, lr: 1e-3, schedule: 'step' }, relabelled);
      model.eval();
      const trainSeconds = (performance.now() - tt) / 1000;
      const v: VariantResult = {
        attack: token, threat: atk.threat, eps: atk.eps!, steps: (atk as { steps?: number }).steps ?? opts.steps, targets: rule, success,
        fitAcc: epochs[epochs.length - 1].trainAcc, testAcc: accuracy(engine, model, test),
        followsRule: rule === 'next' ? followsNext(engine, model, test) : null, attackSeconds, trainSeconds,
      };
      model.dispose();
      log(`${token}, targets ${rule}: ${(100 * success).toFixed(1)} % reach t on the standard model; new model: ${(100 * v.testAcc).toFixed(2)} % on the clean test set (attack ${attackSeconds.toFixed(0)} s, training ${trainSeconds.toFixed(0)} s)`);
      variants.push(v);
    }
  }
  std.model.dispose();
  return { standard, variants, trainN: train.n, testN: test.n, seconds: (performance.now() - t0) / 1000 };
}


/** The markdown table of the variants. */
export function resultTable(r: NonrobustResult): string {
  const lines = [
    '| targeted attack | threat | ε | steps | new labels t | standard model: t reached | new model: fit of (x_adv, t) | new model: clean test accuracy (true labels) | predicts (y + 1) mod 10 | chance |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const v of r.variants) {
    lines.push(`| ${v.attack} | ${v.threat} | ${v.eps} | ${v.steps} | ${v.targets === 'next' ? '(y + 1) mod 10' : 'random ≠ y'} | ${pct(v.success)} | ${pct(v.fitAcc)} | **${pct(v.testAcc)}** | ${v.followsRule === null ? '–' : pct(v.followsRule)} | 10 % |`);
  }
  return lines.join('\n');
}

export function toJson(r: NonrobustResult, opts: NonrobustOptions): unknown {
  return { options: { ...opts }, standard: r.standard, train_n: r.trainN, test_n: r.testN, seconds: r.seconds, variants: r.variants };
}
