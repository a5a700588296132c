import { describe, it } from 'vitest';
import { checkOp } from '../_helpers/gradcheck.ts';

describe('maxPool2d', () => {
  it('x=[2,4,6,3]', () => checkOp('maxPool2d', [[2, 4, 6, 3]]));
  it('x=[1,5,7,5] (odd: last row/column dropped)', () => checkOp('maxPool2d', [[1, 5, 7, 5]]));
  it('x=[2,4,6,3] with fused ReLU', () => checkOp('maxPool2d', [[2, 4, 6, 3]], { attrs: { relu: true } }));
});
