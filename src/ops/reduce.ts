// Reductions: sum over all elements (float64 accumulation), mean = sum / n (composite).
import { Tensor } from '../tensor.ts';
import { scale } from './elementwise.ts';
import { defineOp } from './registry.ts';

const sumOp = defineOp({
  name: 'sum',
  inputs: ['x'],
  save: [],
  forward({ engine, extra }, [x]) {
    const v = x!.view();
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i];
    extra.inShape = x!.shape;
    return Tensor.from(engine, [s], []);
  },
  vjp({ engine, extra }, dy) {
    return [Tensor.full(engine, extra.inShape as number[], dy.item())];
  },
});

export const sum = (x: Tensor): Tensor => sumOp([x], {});
export const mean = (x: Tensor): Tensor => scale(sum(x), 1 / Math.max(1, x.size));
