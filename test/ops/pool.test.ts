import { describe, it } from 'vitest';
import { checkOp } from '../_helpers/gradcheck.ts';

describe('maxPool2d', () => {
  it('x=[2,4,6,3]', () => checkOp('maxPool2d', [[2, 4, 6, 3]]));
  it('x=[1,5,7,5] (odd: last row/column dropped)', () => checkOp('maxPool2d', [[1, 5, 7, 5]]));
  it('x=[2,4,6,3] with fused ReLU', () => checkOp('maxPool2d', [[2, 4, 6, 3]], { attrs: { relu: true } }));
});

describe('avgPool2d', () => {
  it('x=[2,6,6,3] 2×2 stride 2', () => checkOp('avgPool2d', [[2, 6, 6, 3]], { attrs: { kh: 2, kw: 2, sh: 2, sw: 2 } }));
  it('x=[1,7,5,5] 3×3 stride 2 pad 1 (taps in the image)', () => checkOp('avgPool2d', [[1, 7, 5, 5]], { attrs: { kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1 } }));
  it('x=[2,5,5,4] 3×3 stride 1 pad 1 count_include_pad', () => checkOp('avgPool2d', [[2, 5, 5, 4]], { attrs: { kh: 3, kw: 3, ph: 1, pw: 1, includePad: true } }));
  it('x=[2,4,3,9] global', () => checkOp('avgPool2d', [[2, 4, 3, 9]], { attrs: { kh: 4, kw: 3 } }));
});

describe('maxPool (general)', () => {
  it('x=[2,7,7,3] 3×3 stride 2 pad 1', () => checkOp('maxPool', [[2, 7, 7, 3]], { attrs: { kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1 } }));
  it('x=[1,6,5,5] 3×2 stride 1', () => checkOp('maxPool', [[1, 6, 5, 5]], { attrs: { kh: 3, kw: 2 } }));
});
