import { describe, expect, it } from 'vitest';
import { backward, noGrad } from '../../src/autograd.ts';
import { Rng, glorotUniform, heNormal } from '../../src/nn/init.ts';
import { Conv2d, Dense, Flatten, MaxPool2d, Sequential, ReLU } from '../../src/nn/layers.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import { Adam } from '../../src/nn/optim.ts';
import { mean, softmaxCrossEntropy } from '../../src/ops/index.ts';
import { Tensor } from '../../src/tensor.ts';
import { engineFor } from '../_helpers/engine.ts';
import { rng, uniform } from '../_helpers/rng.ts';

describe('initialisers', () => {
  it('Glorot uniform stays within ±sqrt(6/(in+out)) with the right variance; seeded', () => {
    const a = new Float32Array(20000), b = new Float32Array(20000);
    glorotUniform(a, 100, 200, new Rng(1));
    glorotUniform(b, 100, 200, new Rng(1));
    expect(a).toEqual(b);
    const lim = Math.sqrt(6 / 300);
    let v = 0;
    for (const x of a) {
      expect(Math.abs(x)).toBeLessThanOrEqual(lim);
      v += x * x;
    }
    expect(v / a.length).toBeCloseTo(lim * lim / 3, 3);
  });
  it('He normal has variance 2/fanIn', () => {
    const a = new Float32Array(40000);
    heNormal(a, 50, 0, new Rng(2));
    let v = 0;
    for (const x of a) v += x * x;
    expect(v / a.length).toBeCloseTo(2 / 50, 2);
  });
});

describe('modules', async () => {
  const engine = await engineFor('simd');

  it('the paper CNN: parameter names, shapes, (N,28,28,1) → (N,10)', () => {
    const model = mnistCnn(engine, 0);
    expect(model.namedParameters().map(([n, t]) => `${n}:${t.shape.join('x')}`)).toEqual([
      'conv1.weight:5x5x1x32', 'conv1.bias:32', 'conv2.weight:5x5x32x64', 'conv2.bias:64',
      'fc1.weight:3136x1024', 'fc1.bias:1024', 'fc2.weight:1024x10', 'fc2.bias:10',
    ]);
    engine.arena.scope(() => {
      const y = noGrad(() => model.call(Tensor.zeros(engine, [3, 28, 28, 1])));
      expect(y.shape).toEqual([3, 10]);
    });
    model.dispose();
  });

  it('same seed, same weights; zeroGrad clears gradients', () => {
    const a = mnistCnn(engine, 7, { c1: 2, c2: 3, hidden: 5 }), b = mnistCnn(engine, 7, { c1: 2, c2: 3, hidden: 5 });
    a.parameters().forEach((p, i) => expect(p.toArray()).toEqual(b.parameters()[i].toArray()));
    engine.arena.scope(() => {
      backward(mean(softmaxCrossEntropy(a.call(Tensor.full(engine, [2, 28, 28, 1], 0.5)), new Int32Array([1, 2]))));
    });
    expect(a.parameters().every((p) => p.grad !== null)).toBe(true);
    const inUse = engine.arena.stats().inUseBytes;
    a.zeroGrad();
    expect(a.parameters().every((p) => p.grad === null)).toBe(true);
    expect(engine.arena.stats().inUseBytes).toBeLessThan(inUse); // the gradients' buffers are freed
    a.dispose();
    b.dispose();
  });

  it('a Dense with a bad flattenedFrom throws before allocating its parameters (nothing leaks)', () => {
    const before = engine.arena.stats().inUseBytes;
    expect(() => new Dense(engine, 100, 8, { rng: new Rng(1), flattenedFrom: [3, 3, 10] })).toThrow(/Dense: flattenedFrom \[3,3,10\]/);
    expect(engine.arena.stats().inUseBytes).toBe(before);
    const ok = new Dense(engine, 90, 8, { rng: new Rng(1), flattenedFrom: [3, 3, 10] });
    expect(engine.arena.stats().inUseBytes).toBeGreaterThan(before); // the measurement sees parameters
    ok.dispose();
  });

  it('an activation other than relu is an error, not a silently linear layer', () => {
    const before = engine.arena.stats().inUseBytes;
    const bad = { activation: 'tanh' as 'relu' };
    expect(() => new Dense(engine, 4, 2, { rng: new Rng(1), ...bad })).toThrow(/Dense: activation must be 'relu' or undefined, got 'tanh'/);
    expect(() => new Conv2d(engine, 1, 2, 3, { rng: new Rng(1), ...bad })).toThrow(/Conv2d: activation must be 'relu'/);
    expect(() => new MaxPool2d(bad)).toThrow(/MaxPool2d: activation must be 'relu'/);
    expect(engine.arena.stats().inUseBytes).toBe(before);
  });

  it('training steps do not grow arena memory (scoped temporaries)', () => {
    const model = new Sequential([new Conv2d(engine, 1, 4, 3, { padding: 'same', rng: new Rng(1) }), new ReLU(), new Flatten(), new Dense(engine, 144, 3, { rng: new Rng(2) })]);
    const opt = new Adam(model.parameters(), { lr: 1e-3 });
    const x = uniform(rng(3), 5 * 6 * 6);
    const inUse: number[] = [];
    const step = (leak: boolean) => engine.arena.scope(() => {
      const loss = mean(softmaxCrossEntropy(model.call(Tensor.from(engine, x, [5, 6, 6, 1])), new Int32Array([0, 1, 2, 0, 1])));
      model.zeroGrad();
      backward(loss);
      opt.step();
      if (leak) loss.keep();
    });
    for (let s = 0; s < 30; s++) {
      step(false);
      inUse.push(engine.arena.stats().inUseBytes);
    }
    // Step 1 allocates the persistent gradients; afterwards memory stays flat.
    for (let s = 1; s < inUse.length; s++) expect(inUse[s], `step ${s}`).toBe(inUse[0]);
    // The measurement does see a leak: a kept tensor outlives its scope.
    step(true);
    expect(engine.arena.stats().inUseBytes).toBeGreaterThan(inUse[0]);
    model.dispose();
    opt.dispose();
  });
});
