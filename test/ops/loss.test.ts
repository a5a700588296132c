import { describe, expect, it } from 'vitest';
import { marginLoss, softmaxCrossEntropy } from '../../src/ops/index.ts';
import { Tensor } from '../../src/tensor.ts';
import { engineFor } from '../_helpers/engine.ts';
import { checkOp } from '../_helpers/gradcheck.ts';

describe('losses', () => {
  it('softmaxCrossEntropy logits=[6,10]', () => checkOp('softmaxCrossEntropy', [[6, 10]]));
  it('softmaxCrossEntropy logits=[3,3]', () => checkOp('softmaxCrossEntropy', [[3, 3]], { seed: 3 }));
  it('marginLoss logits=[5,10]', () => checkOp('marginLoss', [[5, 10]]));
  it('marginLoss logits=[4,2]', () => checkOp('marginLoss', [[4, 2]], { seed: 4 }));
});

describe('loss label errors', async () => {
  const engine = await engineFor('simd');
  it.each([
    ['a plain array', [1, 0], TypeError, /softmaxCrossEntropy: labels must be an Int32Array, got a plain Array \(use Int32Array\.from\(labels\)\)/],
    ['a Float32Array', Float32Array.of(1, 0), TypeError, /labels must be an Int32Array, got Float32Array/],
    ['null', null, TypeError, /labels must be an Int32Array, got null/],
    ['the wrong length', Int32Array.of(1, 0, 2), RangeError, /labels has 3 values, the logits' batch is 2/],
  ])('labels as %s name the problem', (_name, labels, type, msg) => {
    engine.arena.scope(() => {
      const logits = Tensor.from(engine, [0, 1, 2, 3, 4, 5], [2, 3]);
      expect(() => softmaxCrossEntropy(logits, labels as Int32Array)).toThrow(type);
      expect(() => softmaxCrossEntropy(logits, labels as Int32Array)).toThrow(msg);
      expect(() => marginLoss(logits, labels as Int32Array)).toThrow(type);
    });
  });
});
