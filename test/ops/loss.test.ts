import { describe, it } from 'vitest';
import { checkOp } from '../_helpers/gradcheck.ts';

describe('losses', () => {
  it('softmaxCrossEntropy logits=[6,10]', () => checkOp('softmaxCrossEntropy', [[6, 10]]));
  it('softmaxCrossEntropy logits=[3,3]', () => checkOp('softmaxCrossEntropy', [[3, 3]], { seed: 3 }));
  it('marginLoss logits=[5,10]', () => checkOp('marginLoss', [[5, 10]]));
  it('marginLoss logits=[4,2]', () => checkOp('marginLoss', [[4, 2]], { seed: 4 }));
});
