import { describe, it } from 'vitest';
import { checkOp } from '../_helpers/gradcheck.ts';

describe('conv2d', () => {
  it('gradient x=[2,3,3,1] w=[2,2,1,1] s=1 p=valid', () => checkOp('conv2d', [[2, 3, 3, 1], [2, 2, 1, 1], null]));
  it('gradient x=[2,6,5,3] w=[3,3,3,4] b=[4] s=1 p=same', () => checkOp('conv2d', [[2, 6, 5, 3], [3, 3, 3, 4], [4]], { attrs: { padding: 'same' } }));
  it('gradient x=[1,7,7,2] w=[5,5,2,5] b=[5] s=2 p=same', () => checkOp('conv2d', [[1, 7, 7, 2], [5, 5, 2, 5], [5]], { attrs: { padding: 'same', stride: 2 } }));
  it('gradient with fused ReLU x=[2,6,5,3] w=[3,3,3,4] b=[4] s=1 p=same', () => checkOp('conv2d', [[2, 6, 5, 3], [3, 3, 3, 4], [4]], { attrs: { padding: 'same', relu: true } }));
  it('gradient with fused ReLU, Winograd x=[2,6,6,8] w=[5,5,8,8] b=[8] s=1 p=same', () => checkOp('conv2d', [[2, 6, 6, 8], [5, 5, 8, 8], [8]], { attrs: { padding: 'same', relu: true } }));
  it('gradient x=[3,8,8,1] w=[5,5,1,32] b=[32] s=1 p=same (conv1)', () => checkOp('conv2d', [[3, 8, 8, 1], [5, 5, 1, 32], [32]], { attrs: { padding: 'same' } }));
});
