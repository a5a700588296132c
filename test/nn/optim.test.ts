import { describe, expect, it } from 'vitest';
import { Adam, SGD } from '../../src/nn/optim.ts';
import { cosine, piecewiseConstant, piecewiseLinear, triangular } from '../../src/nn/schedule.ts';
import { Tensor } from '../../src/tensor.ts';
import { assertClose } from '../_helpers/close.ts';
import { engineFor } from '../_helpers/engine.ts';
import { rng, uniform } from '../_helpers/rng.ts';

/** Runs `steps` updates with fixed random gradients per step; returns the parameter. */
async function run(make: (p: Tensor[]) => { step(): void }, p0: Float32Array, grads: Float32Array[]) {
  const engine = await engineFor('simd');
  const p = Tensor.from(engine, p0, [p0.length], { persistent: true, requiresGrad: true });
  const opt = make([p]);
  for (const g of grads) {
    p.grad ??= Tensor.zeros(engine, p.shape, { persistent: true });
    p.grad.view().set(g);
    opt.step();
  }
  const out = p.toArray();
  p.dispose();
  return out;
}

describe('optimizers vs float64 references (torch.optim semantics)', () => {
  const rand = rng(11);
  const n = 37, p0 = uniform(rand, n), grads = Array.from({ length: 5 }, () => uniform(rand, n));

  it('Adam with a piecewise-constant schedule and weight decay', async () => {
    const sched = piecewiseConstant([[0, 1e-2], [3, 1e-3]]);
    const got = await run((p) => new Adam(p, { lr: sched, weightDecay: 0.01 }), p0, grads);
    const p = Float64Array.from(p0), m = new Float64Array(n), v = new Float64Array(n);
    grads.forEach((g, s) => {
      const t = s + 1, lr = sched(s);
      for (let i = 0; i < n; i++) {
        const gi = g[i] + 0.01 * p[i];
        m[i] = 0.9 * m[i] + 0.1 * gi;
        v[i] = 0.999 * v[i] + 0.001 * gi * gi;
        p[i] -= (lr / (1 - 0.9 ** t)) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - 0.999 ** t) + 1e-8);
      }
    });
    assertClose('adam', got, p, { atol: 1e-6, rtol: 1e-5 });
  });

  it('SGD with momentum and weight decay', async () => {
    const got = await run((p) => new SGD(p, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 }), p0, grads);
    const p = Float64Array.from(p0), buf = new Float64Array(n);
    grads.forEach((g, s) => {
      for (let i = 0; i < n; i++) {
        const gi = g[i] + 5e-4 * p[i];
        buf[i] = s === 0 ? gi : 0.9 * buf[i] + gi;
        p[i] -= 0.1 * buf[i];
      }
    });
    assertClose('sgd', got, p, { atol: 1e-6, rtol: 1e-5 });
  });
});

describe('learning-rate schedules', () => {
  it("piecewise constant: the paper's 1e-3 → 1e-4 at step 3000", () => {
    const s = piecewiseConstant([[0, 1e-3], [3000, 1e-4]]);
    expect([s(0), s(2999), s(3000), s(10000)]).toEqual([1e-3, 1e-3, 1e-4, 1e-4]);
    expect(() => piecewiseConstant([[5, 1]])).toThrow(/step 0/);
  });
  it('triangular / piecewise linear', () => {
    const s = triangular(100, 0.2);
    expect([s(0), s(25), s(50), s(75), s(100), s(200)]).toEqual([0, 0.1, 0.2, 0.1, 0, 0]);
    expect(piecewiseLinear([[10, 1], [20, 3]])(15)).toBe(2);
  });
  it('cosine (with warm-up)', () => {
    const s = cosine(110, 1, 0, 10);
    expect(s(0)).toBeCloseTo(0.1);
    expect(s(10)).toBeCloseTo(1);
    expect(s(60)).toBeCloseTo(0.5);
    expect(s(110)).toBeCloseTo(0);
  });
});
