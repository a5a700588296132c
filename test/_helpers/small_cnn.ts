// The attack tests' victim: a small CNN (widths 4/8/32) trained here for one short epoch on MNIST
// (seeded, ~2 s), frozen, and the first test images it is attacked on. Plus the per-row norm of a
// perturbation that the ball checks use.
import type { Module } from '../../src/nn/module.ts';
import { loadMnist } from '../../src/train/data.ts';
import { trainStandard } from '../../src/train/standard.ts';
import type { Engine } from '../../src/wasm/engine.ts';

export const N = 60, D = 784;

/** ‖a_r − b_r‖_p of row r of two (N, D) arrays. */
export function rowNorm(a: Float32Array, b: Float32Array, r: number, p: 'L1' | 'L2' | 'Linf'): number {
  let s = 0;
  for (let j = r * D; j < (r + 1) * D; j++) {
    const d = Math.abs(a[j] - b[j]);
    s = p === 'L1' ? s + d : p === 'L2' ? s + d * d : Math.max(s, d);
  }
  return p === 'L2' ? Math.sqrt(s) : s;
}

/**
 * The trained, frozen small CNN and the first `n` test images (xs NHWC flat), labels and ids.
 * `seed` and `batches` (of 32 training images) pick the model; `epochs` is trainStandard's log.
 */
export function smallMnistCnn(engine: Engine, opts: { seed?: number; batches?: number; n?: number } = {}) {
  const { seed = 5, batches = 250, n = N } = opts;
  const train = loadMnist('train'), full = loadMnist('test');
  const test = { ...full, n: 500, images: full.images.subarray(0, 500 * D), labels: full.labels.subarray(0, 500) };
  const { model, epochs } = trainStandard(engine, { epochs: 1, batch: 32, seed, lr: 2e-3, limit: 32 * batches, widths: { c1: 4, c2: 8, hidden: 32 }, log: () => {} }, { train, test });
  for (const p of model.parameters()) p.requiresGrad = false;
  const xs = full.images.slice(0, n * D), y = Int32Array.from(full.labels.subarray(0, n));
  return { model: model as Module, epochs, xs, y, ids: Int32Array.from({ length: n }, (_, i) => i) };
}
