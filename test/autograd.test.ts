import { describe, expect, it } from 'vitest';
import { backward, grad, noGrad } from '../src/autograd.ts';
import { add, conv2d, mean, mul, relu, softmaxCrossEntropy, sum, scale, dense, flatten, maxPool2d } from '../src/ops/index.ts';
import { Tensor } from '../src/tensor.ts';
import { mnistCnn } from '../src/nn/models.ts';
import { marginLoss } from '../src/ops/index.ts';
import { engineFor } from './_helpers/engine.ts';
import { rng, uniform } from './_helpers/rng.ts';

describe('tape autodiff', async () => {
  const engine = await engineFor('simd');

  it('reused nodes accumulate (micrograd: c = a·b; d = c + c; e = d·c)', () => {
    engine.arena.scope(() => {
      const a = Tensor.from(engine, [2, -3], [2], { requiresGrad: true });
      const b = Tensor.from(engine, [0.5, 4], [2], { requiresGrad: true });
      const c = mul(a, b);
      const d = add(c, c);
      const e = sum(mul(d, c)); // e = 2c², de/dc = 4c
      backward(e);
      // de/da = 4c·b, de/db = 4c·a
      expect(Array.from(a.grad!.toArray())).toEqual([4 * 1 * 0.5, 4 * -12 * 4]);
      expect(Array.from(b.grad!.toArray())).toEqual([4 * 1 * 2, 4 * -12 * -3]);
      // A second backward on a new graph accumulates into .grad.
      backward(sum(a));
      expect(Array.from(a.grad!.toArray())).toEqual([2 + 1, -192 + 1]);
    });
  });

  it('a persistent leaf adopts its gradient buffer: it outlives the scope of backward, nothing else does, and dispose frees it', () => {
    // backward takes a leaf's gradient buffer as .grad instead of copying it (fc1: 12.8 MB per step);
    // for a persistent parameter that buffer must leave backward's scope, and only it.
    const w = Tensor.from(engine, [1, -2, 3, 0.5], [2, 2], { persistent: true, requiresGrad: true });
    const idle = engine.arena.stats().inUseBytes;
    engine.arena.scope(() => backward(sum(mul(mul(w, w), w)))); // d/dw w³ = 3w²
    expect(Array.from(w.grad!.toArray())).toEqual([3, 12, 27, 0.75]);
    expect(w.grad!.persistent).toBe(true);
    expect(engine.arena.stats().inUseBytes - idle).toBe(16);
    // Later allocations do not reuse its memory.
    engine.arena.scope(() => Tensor.full(engine, [64], 7));
    expect(Array.from(w.grad!.toArray())).toEqual([3, 12, 27, 0.75]);
    // A second backward accumulates into it.
    engine.arena.scope(() => backward(sum(w)));
    expect(Array.from(w.grad!.toArray())).toEqual([4, 13, 28, 1.75]);
    w.grad!.dispose();
    w.grad = null;
    expect(engine.arena.stats().inUseBytes).toBe(idle);
    w.dispose();
  });

  it('pass-through gradients are never shared: accumulating into one input leaves the others intact', () => {
    // add's vjp hands its dy to both inputs; backward takes fresh vjp results without a copy, so
    // this checks it copies aliased ones: z = (a + b) + a, dz/da = 2, dz/db = 1; then a seed reused.
    engine.arena.scope(() => {
      const a = Tensor.from(engine, [1, 2, 3], [3], { requiresGrad: true });
      const b = Tensor.from(engine, [4, 5, 6], [3], { requiresGrad: true });
      const seed = Tensor.from(engine, [1, 10, 100], [3]);
      backward(add(add(a, b), a), seed);
      expect(Array.from(a.grad!.toArray())).toEqual([2, 20, 200]);
      expect(Array.from(b.grad!.toArray())).toEqual([1, 10, 100]);
      expect(Array.from(seed.toArray())).toEqual([1, 10, 100]);
      // A gradient that is itself a tensor of the forward graph (scale by 1 passes dy through) stays intact too.
      const c = Tensor.from(engine, [7, 8, 9], [3], { requiresGrad: true });
      const y = scale(c, 1);
      backward(add(y, c), seed);
      expect(Array.from(c.grad!.toArray())).toEqual([2, 20, 200]);
      expect(Array.from(y.toArray())).toEqual([7, 8, 9]);
    });
  });

  it('noGrad records no tape; grad() returns fresh gradients', () => {
    engine.arena.scope(() => {
      const x = Tensor.from(engine, [1, 2, 3], [3], { requiresGrad: true });
      const y = noGrad(() => scale(x, 2));
      expect(y.requiresGrad).toBe(false);
      expect(y.node).toBeNull();
      expect(() => backward(sum(y))).toThrow(/does not require a gradient/);
      const [g] = grad(() => sum(mul(x, x)), [x]);
      expect(Array.from(g.toArray())).toEqual([2, 4, 6]);
      expect(x.grad).toBeNull();
    });
  });

  it('backward needs a seed for non-scalar roots', () => {
    engine.arena.scope(() => {
      const x = Tensor.from(engine, [1, 2], [2], { requiresGrad: true });
      expect(() => backward(scale(x, 3))).toThrow(/pass a seed gradient/);
      backward(scale(x, 3), Tensor.from(engine, [1, -1], [2]));
      expect(Array.from(x.grad!.toArray())).toEqual([3, -3]);
    });
  });

  it('the input-only gradient path runs no filter-gradient kernel (attack step)', () => {
    const rand = rng(5);
    engine.arena.scope(() => {
      const w1 = Tensor.from(engine, uniform(rand, 5 * 5 * 1 * 4), [5, 5, 1, 4]);
      const b1 = Tensor.from(engine, uniform(rand, 4), [4]);
      const w2 = Tensor.from(engine, uniform(rand, 7 * 7 * 4 * 10), [196, 10]);
      const x = Tensor.from(engine, uniform(rand, 2 * 28 * 28, 0, 1), [2, 28, 28, 1], { requiresGrad: true });
      engine.calls.clear();
      const logits = dense(flatten(maxPool2d(maxPool2d(relu(conv2d(x, w1, b1, { padding: 'same' }))))), w2);
      backward(mean(softmaxCrossEntropy(logits, new Int32Array([3, 4]))));
      expect(engine.calls.get('f32_conv2d_bwd_input')).toBe(1);
      expect(engine.calls.has('f32_conv2d_bwd_filter')).toBe(false);
      expect(engine.calls.has('f32_bias_add_bwd')).toBe(false);
      expect(x.grad!.size).toBe(2 * 28 * 28);
      // With the weights requiring gradients too, the filter kernel does run.
      w1.requiresGrad = true;
      engine.calls.clear();
      backward(sum(conv2d(x, w1, b1, { padding: 'same' })));
      expect(engine.calls.get('f32_conv2d_bwd_filter')).toBe(1);
    });
  });

  it('errors name the op and the argument', () => {
    engine.arena.scope(() => {
      const a = Tensor.zeros(engine, [2, 3]), b = Tensor.zeros(engine, [3, 2]);
      expect(() => add(a, b)).toThrow(/add: shapes \[2,3\] and \[3,2\] differ/);
      expect(() => dense(a, a)).toThrow(/dense: x \[2,3\] has 3 features, w \[2,3\] expects 2/);
      expect(() => conv2d(a, a)).toThrow(/conv2d: x must be NHWC/);
      expect(() => softmaxCrossEntropy(a, new Int32Array([0, 3]))).toThrow(/labels\[1\] = 3 is out of range \[0, 3\)/);
      expect(() => softmaxCrossEntropy(a, new Int32Array([0]))).toThrow(/labels has 1 values, the logits' batch is 2/);
    });
  });
  it('grad(f, [x]) on a model: input gradient only, no filter-gradient kernel, parameters untouched', () => {
    const rand = rng(11);
    const model = mnistCnn(engine, 3, { c1: 4, c2: 8, hidden: 16 });
    const labels = new Int32Array([1, 7, 3]);
    engine.arena.scope(() => {
      const x = Tensor.from(engine, uniform(rand, 3 * 28 * 28, 0, 1), [3, 28, 28, 1]);
      engine.calls.clear();
      const [gx] = grad(() => mean(marginLoss(model.call(x), labels)), [x]);
      expect(engine.calls.has('f32_conv2d_bwd_filter')).toBe(false);
      expect(engine.calls.has('f32_bias_add_bwd')).toBe(false);
      expect(engine.calls.get('f32_conv2d_bwd_input')).toBe(2);
      for (const p of model.parameters()) expect(p.grad).toBeNull();
      expect(x.requiresGrad).toBe(false);
      // The same gradient as a full backward that also differentiates the parameters.
      const x2 = Tensor.from(engine, x.toArray(), [3, 28, 28, 1], { requiresGrad: true });
      backward(mean(marginLoss(model.call(x2), labels)));
      expect(Array.from(gx.toArray())).toEqual(Array.from(x2.grad!.toArray()));
      expect(model.parameters().every((p) => p.grad !== null)).toBe(true);
      model.zeroGrad();
    });
    model.dispose();
  });
});
