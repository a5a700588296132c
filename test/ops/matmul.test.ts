import { describe, it } from 'vitest';
import { checkOp } from '../_helpers/gradcheck.ts';

describe('matmul and dense', () => {
  it('matmul a=[5,7] b=[7,3]', () => checkOp('matmul', [[5, 7], [7, 3]]));
  it('matmul a=[1,1] b=[1,9]', () => checkOp('matmul', [[1, 1], [1, 9]]));
  it('dense x=[4,9] w=[9,5] b=[5]', () => checkOp('dense', [[4, 9], [9, 5], [5]]));
  it('dense x=[3,33] w=[33,10] no bias', () => checkOp('dense', [[3, 33], [33, 10], null]));
  it('dense with fused ReLU x=[4,9] w=[9,5] b=[5]', () => checkOp('dense', [[4, 9], [9, 5], [5]], { attrs: { relu: true } }));
});
