// The attack tests' victim: a small CNN (widths 4/8/32) trained here for one short epoch on MNIST
// (seeded, ~2 s), frozen, and the first N test images it is attacked on. Plus the per-row norm of a
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

/** The trained, frozen small CNN and the first N test images (xs NHWC flat), labels and ids. */
export function smallMnistCnn(engine: Engine): { model: Module; xs: Float32Array; y: Int32Array; ids: Int32Array } {
  const train = loadMnist('train'), full = loadMnist('test');
  const test = { ...full, n: 500, images: full.images.subarray(0, 500 * D), labels: full.labels.subarray(0, 500) };
  const { model } = trainStandard(engine, { epochs: 1, batch: 32, seed: 5, lr: 2e-3, limit: 32 * 250, widths: { c1: 4, c2: 8, hidden: 32 }, log: () => {} }, { train, test });
  for (const p of model.parameters()) p.requiresGrad = false;
  const xs = full.images.slice(0, N * D), y = Int32Array.from(full.labels.subarray(0, N));
  return { model, xs, y, ids: Int32Array.from({ length: N }, (_, i) => i) };
}
