import { describe, it } from 'vitest';
import { checkOp } from '../_helpers/gradcheck.ts';

describe('spatialTransform (bilinear rotation-translation)', () => {
  it('x=[2,6,7,1] params=[2,3]', () => checkOp('spatialTransform', [[2, 6, 7, 1], [2, 3]]));
  it('x=[3,5,5,3] params=[3,3]', () => checkOp('spatialTransform', [[3, 5, 5, 3], [3, 3]], { seed: 2 }));
});
