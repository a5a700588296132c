import { describe, it } from 'vitest';
import { checkOp } from '../_helpers/gradcheck.ts';

describe('elementwise ops: forward vs float64, adjoint / central-difference gradients', () => {
  it('add [3,5]', () => checkOp('add', [[3, 5], [3, 5]]));
  it('sub [7]', () => checkOp('sub', [[7], [7]]));
  it('mul [2,3,4]', () => checkOp('mul', [[2, 3, 4], [2, 3, 4]]));
  it('scale [9] c=-2.5', () => checkOp('scale', [[9]], { attrs: { c: -2.5 } }));
  it('addScalar [4,4] c=0.75', () => checkOp('addScalar', [[4, 4]], { attrs: { c: 0.75 } }));
  it('relu [5,9]', () => checkOp('relu', [[5, 9]]));
  it('relu [1]', () => checkOp('relu', [[1]]));
  it('biasAdd x=[6,5] b=[5]', () => checkOp('biasAdd', [[6, 5], [5]]));
  it('biasAdd x=[2,3,3,4] b=[4]', () => checkOp('biasAdd', [[2, 3, 3, 4], [4]]));
  // attrs.relu used to be declared and ignored (negative outputs, unmasked gradients).
  it('biasAdd relu x=[6,5] b=[5]', () => checkOp('biasAdd', [[6, 5], [5]], { attrs: { relu: true } }));
  it('biasAdd relu x=[2,3,3,4] b=[4]', () => checkOp('biasAdd', [[2, 3, 3, 4], [4]], { attrs: { relu: true } }));
});

describe('leakyRelu', () => {
  it('[5,9] alpha 0.1', () => checkOp('leakyRelu', [[5, 9]], { attrs: { alpha: 0.1 } }));
  it('[1] alpha 0', () => checkOp('leakyRelu', [[1]], { attrs: { alpha: 0 } }));
});
