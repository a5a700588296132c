// Shape ops: reshape and flatten. They copy (no aliasing between tensors, so gradient
// accumulation and scoped freeing stay simple); a copy is cheap next to the ops around them.
import { Tensor, sizeOf, type Shape } from '../tensor.ts';
import { defineOp } from './registry.ts';

function copyAs(x: Tensor, shape: Shape): Tensor {
  return Tensor.from(x.engine, x.view(), shape);
}

const reshapeOp = defineOp<{ shape: Shape }>({
  name: 'reshape',
  inputs: ['x'],
  save: [],
  forward({ extra }, [x], { shape }) {
    const s = [...shape];
    const free = s.indexOf(-1);
    if (free >= 0) s[free] = x!.size / sizeOf(s.filter((_, i) => i !== free));
    if (!s.every((d) => Number.isInteger(d) && d >= 0) || sizeOf(s) !== x!.size) {
      throw new RangeError(`reshape: cannot reshape [${x!.shape}] (${x!.size} elements) to [${shape}]`);
    }
    extra.inShape = x!.shape;
    return copyAs(x!, s);
  },
  vjp({ extra }, dy) {
    return [copyAs(dy, extra.inShape as Shape)];
  },
});

export const reshape = (x: Tensor, shape: Shape): Tensor => reshapeOp([x], { shape });
/** (N, …) → (N, prod(…)); for NHWC activations this is (H, W, C) order. */
export const flatten = (x: Tensor): Tensor => reshapeOp([x], { shape: [x.shape[0], -1] });
