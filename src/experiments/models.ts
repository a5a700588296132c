// The MNIST CNNs the experiments of issue 19 need (experiment:nonrobust, experiment:invariance):
// a standard model, an Adv∞ model (ε = 0.3) and the multi-perturbation model of `npm start`, each
// either loaded from a checkpoint the user names or trained here with short, fixed settings and
// cached under runs/experiments/ (git-ignored), so a second run loads them instead of training.
//
// A cache file's name carries every setting that determines its weights (recipe, seed, thread
// count: the engine's results are reproducible per thread count), and its metadata repeats them;
// a file whose metadata does not match is retrained, never silently used. Models are the paper's
// CNN (src/nn/models.ts; input (B, 28, 28, 1) NHWC in [0, 1], logits (B, 10)), returned frozen
// (no parameter gradients) and in eval mode.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { loadModel, saveModel } from '../nn/checkpoint.ts';
import { mnistCnn } from '../nn/models.ts';
import type { Module } from '../nn/module.ts';
import { readSafetensors } from '../io/safetensors.ts';
import { firstN, type ImageDataset } from '../train/data.ts';
import { trainModel, type Strategy } from '../train/train.ts';
import type { Engine } from '../wasm/engine.ts';

/** How a cached model is trained: trainModel's options (Adam, lr 1e-3, step schedule, batch 100). */
export interface Recipe {
  /** Short name, part of the cache file name. */
  name: string;
  strategy: Strategy;
  attacks: string[];
  attackSteps: number;
  startSmall: boolean;
  epochs: number;
  /** Train on the first trainN training images. */
  trainN: number;
  /** What the recipe reproduces, for the printed summary. */
  note: string;
}

/** 1 epoch of standard training on all 60,000 images (trainStandard with `epochs: 1`, src/train/standard.ts: 98.9 %). */
export const STANDARD: Recipe = { name: 'standard', strategy: 'none', attacks: [], attackSteps: 0, startSmall: false, epochs: 1, trainN: 60000, note: 'standard training, 1 epoch of 60,000 images' };

/** Adv∞ at ε = 0.3 with the budget of `npm start`: 5 epochs of 12,000 images, 5-step PGD, start-small. */
export const LINF: Recipe = { name: 'linf', strategy: 'single', attacks: ['linf:0.3'], attackSteps: 5, startSmall: true, epochs: 5, trainN: 12000, note: 'Adv∞ ε = 0.3: single linf:0.3, 5-step PGD, 5 epochs of 12,000 images, start-small' };

/** The multi-perturbation model of `npm start`: sampled over L∞ 0.3, L2 2, L1 10, same budget. */
export const MULTI: Recipe = { name: 'multi', strategy: 'sampled', attacks: ['linf:0.3', 'l2:2', 'l1:10'], attackSteps: 5, startSmall: true, epochs: 5, trainN: 12000, note: 'npm start: sampled over linf:0.3, l2:2, l1:10, 5-step attacks, 5 epochs of 12,000 images, start-small' };

/** The paper's CNN with the weights of `path`, frozen and in eval mode. */
export function loadCnn(engine: Engine, path: string): Module {
  const model = mnistCnn(engine, 0);
  loadModel(path, model);
  return freeze(model);
}

function freeze(model: Module): Module {
  for (const p of model.parameters()) p.requiresGrad = false;
  return model.eval();
}

/** The cache file of a recipe for this seed and thread count. */
export function cachePath(dir: string, r: Recipe, seed: number, threads: number): string {
  return join(dir, `${r.name}-e${r.epochs}-n${r.trainN}-s${seed}-t${threads}.safetensors`);
}

function recipeMeta(r: Recipe, seed: number, threads: number): Record<string, string> {
  return { model: 'mnist_cnn', recipe: JSON.stringify({ ...r, note: undefined }), seed: String(seed), threads: String(threads) };
}

export interface ObtainedModel {
  model: Module;
  /** Where the weights are (the user's checkpoint or the cache file). */
  path: string;
  /** 'given' (a checkpoint flag), 'cached' (loaded from the cache) or 'trained' (trained now). */
  source: 'given' | 'cached' | 'trained';
  /** Training time in seconds (0 unless trained now). */
  seconds: number;
}

/**
 * The model of `recipe`: from `given` when set, else from the cache when its metadata matches,
 * else trained on the first recipe.trainN images of `train` and saved to the cache.
 */
export function obtainModel(engine: Engine, recipe: Recipe, opts: { given?: string; cacheDir: string; seed: number; train: ImageDataset; log: (s: string) => void }): ObtainedModel {
  if (opts.given) {
    let model: Module;
    try {
      model = loadCnn(engine, opts.given);
    } catch (err) {
      // A checkpoint the user named that does not load (not safetensors, other shapes) is bad input.
      throw new InputError(`checkpoint ${opts.given}: ${(err as Error).message.split('\n')[0]}`);
    }
    return { model, path: opts.given, source: 'given', seconds: 0 };
  }
  const path = cachePath(opts.cacheDir, recipe, opts.seed, engine.threads);
  const meta = recipeMeta(recipe, opts.seed, engine.threads);
  if (existsSync(path)) {
    const saved = readSafetensors(path).metadata;
    if (Object.entries(meta).every(([k, v]) => saved[k] === v)) return { model: loadCnn(engine, path), path, source: 'cached', seconds: 0 };
    opts.log(`${path}: metadata does not match the recipe; training again`);
  }
  const t0 = performance.now();
  const fit = firstN(opts.train, recipe.trainN);
  opts.log(`training ${recipe.name} (${recipe.note}; seed ${opts.seed}, ${engine.threads} threads) → ${path}`);
  const { model } = trainModel(engine, {
    strategy: recipe.strategy, attacks: recipe.attacks, attackSteps: recipe.attackSteps || undefined, startSmall: recipe.startSmall,
    epochs: recipe.epochs, batch: 100, seed: opts.seed, lr: 1e-3, schedule: 'step', log: opts.log, logEvery: 100,
  }, fit);
  mkdirSync(opts.cacheDir, { recursive: true });
  saveModel(path, model, meta);
  return { model: freeze(model), path, source: 'trained', seconds: (performance.now() - t0) / 1000 };
}
