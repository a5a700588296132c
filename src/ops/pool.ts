// Max-pool 2×2, stride 2 over the pool kernels (assembly/pool.ts); NHWC.
// attrs.relu: ReLU after the pool, in the same kernel; equal to ReLU then pool in values and
// gradients, so conv → ReLU → pool runs as conv → pool+ReLU: one pass over the pooled map
// (4× smaller) instead of a forward and a backward pass over the full one.
// NOTE: floor windows (an odd last row/column is dropped); ties send the gradient to the first
// max in the order (0,0), (0,1), (1,0), (1,1).
import { maxPool2x2, maxPool2x2Backward } from '../kernels/pool.ts';
import { Tensor } from '../tensor.ts';
import { defineOp } from './registry.ts';

export interface MaxPool2dAttrs {
  relu?: boolean;
}

const maxPool2dOp = defineOp<MaxPool2dAttrs>({
  name: 'maxPool2d',
  inputs: ['x'],
  save: ['x'],
  forward({ engine }, [x], attrs) {
    if (x!.rank !== 4) throw new RangeError(`maxPool2d: x must be NHWC (4-D), got shape [${x!.shape}]`);
    const [batch, h, w, c] = x!.shape;
    const y = Tensor.empty(engine, [batch, h >> 1, w >> 1, c]);
    maxPool2x2(engine, { x: x!.buf, y: y.buf, batch, h, w, c, relu: !!attrs.relu });
    return y;
  },
  vjp({ engine, saved, attrs }, dy) {
    const [batch, h, w, c] = saved.x.shape;
    const dx = Tensor.empty(engine, saved.x.shape);
    maxPool2x2Backward(engine, { x: saved.x.buf, dy: dy.buf, dx: dx.buf, batch, h, w, c, relu: !!attrs.relu });
    return [dx];
  },
});

export const maxPool2d = (x: Tensor, attrs: MaxPool2dAttrs = {}): Tensor => maxPool2dOp([x], attrs);
