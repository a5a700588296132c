import { describe, it } from 'vitest';
import { checkOp } from '../_helpers/gradcheck.ts';

describe('reduce ops', () => {
  it('sum [3,7]', () => checkOp('sum', [[3, 7]]));
  it('sum [1]', () => checkOp('sum', [[1]]));
});
