import { describe, it } from 'vitest';
import { checkOp } from '../_helpers/gradcheck.ts';

describe('shape ops', () => {
  it('reshape [2,3,4] → [6,4]', () => checkOp('reshape', [[2, 3, 4]], { attrs: { shape: [6, 4] } }));
  it('reshape [2,3,4] → [2,-1]', () => checkOp('reshape', [[2, 3, 4]], { attrs: { shape: [2, -1] } }));
});
