// The held-out policy of a training run: the last `valN` training images are held out and never
// trained on (the first `trainN` of the rest are trained on), and evaluated every `evalEvery` epochs
// with the held-out attacks: the training attacks, or the test threat models for standard training.
import { firstN, type ImageDataset } from './data.ts';
import type { RunConfig } from './run_dir.ts';

/** The training images (the first trainN before the held-out slice) and the held-out slice (the last valN). */
export function splitData(c: RunConfig, train: ImageDataset): { fit: ImageDataset; val: ImageDataset } {
  const D = train.height * train.width * train.channels;
  const fitN = Math.min(train.n - c.valN, c.trainN ?? Infinity);
  const valFrom = train.n - c.valN;
  return {
    fit: firstN(train, fitN),
    val: { ...train, n: c.valN, images: train.images.subarray(valFrom * D), labels: train.labels.subarray(valFrom) },
  };
}

/**
 * The held-out evaluation's attacks: the training attacks, or for standard training (none) the
 * final evaluation's threat models as plain tokens (the suite's names are threat models, whose
 * first-order token is the same string: linf:0.3, l2:2, l1:10, rt).
 */
export function heldOutAttacks(c: RunConfig): string[] {
  return c.attacks.length ? c.attacks : c.testAttacks;
}
