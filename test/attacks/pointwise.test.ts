// Pointwise attack (src/attacks/pointwise.ts) against a small CNN trained here on an MNIST subset.
import { afterAll, describe, expect, it } from 'vitest';
import { predictLabels } from '../../src/attacks/decision.ts';
import { pointwiseAttack } from '../../src/attacks/pointwise.ts';
import { loadEngine } from '../../src/wasm/load.ts';
import { smallMnistCnn } from '../_helpers/small_cnn.ts';

const N = 40, D = 784;
const SHAPE = [N, 28, 28, 1] as const;

/** Per example: number of changed elements and L1 distance. */
function norms(adv: Float32Array, x0: Float32Array, n: number) {
  const l0 = new Float64Array(n), l1 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let d = i * D; d < (i + 1) * D; d++) {
      const t = Math.abs(adv[d] - x0[d]);
      if (t !== 0) l0[i]++;
      l1[i] += t;
    }
  }
  return { l0, l1 };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

describe('pointwiseAttack (small CNN, MNIST subset)', async () => {
  const engine = await loadEngine({ threads: 2 });
  afterAll(() => engine.close());
  const { model, epochs, xs: x0, y } = smallMnistCnn(engine, { seed: 3, batches: 200, n: N });
  const clean = predictLabels(engine, model, x0, SHAPE);
  const run = (opts: Parameters<typeof pointwiseAttack>[5]) => pointwiseAttack(engine, model, x0, y, SHAPE, opts);
  const inUse = engine.arena.stats().inUseBytes;
  const r = run({ seed: 1 });
  const leaked = engine.arena.stats().inUseBytes - inUse;

  it('outputs stay in [0, 1]; successes are misclassified, failures are x0', () => {
    expect(epochs[0].testAcc).toBeGreaterThan(0.8);
    expect(r.adv.length).toBe(N * D);
    for (const v of r.adv) expect(v >= 0 && v <= 1).toBe(true);
    const labels = predictLabels(engine, model, r.adv, SHAPE, 16);
    for (let i = 0; i < N; i++) {
      if (r.success[i]) expect(labels[i], `example ${i}`).not.toBe(y[i]);
      else expect(r.adv.subarray(i * D, (i + 1) * D)).toEqual(x0.subarray(i * D, (i + 1) * D));
    }
    // Examples the model already gets wrong are adversarial unchanged.
    for (let i = 0; i < N; i++) if (clean[i] !== y[i]) expect(r.success[i]).toBe(1);
    expect(r.queries).toBeGreaterThan(2 * N);
    expect(r.queries).toBeLessThanOrEqual(N * 1500 + N);
    expect(leaked, 'arena bytes left allocated by the attack').toBe(0);
    // predictLabels: the same labels whatever the batch size.
    expect(predictLabels(engine, model, x0, SHAPE, 7)).toEqual(clean);
  });

  it('shrinks the perturbation from its salt-and-pepper start and breaks most examples within L1 10', () => {
    // A budget of 1 + 50 queries stops (nearly) at the noise start, r's first start (the same draws):
    // an upper bound of where r began.
    const start = run({ seed: 1, maxQueries: 51, restarts: 1, searchSteps: 0 });
    const a = norms(start.adv, x0, N), b = norms(r.adv, x0, N);
    const both = [...Array(N).keys()].filter((i) => start.success[i] && r.success[i] && clean[i] === y[i]);
    expect(both.length).toBeGreaterThan(N / 2);
    for (const i of both) expect(b.l0[i], `example ${i}`).toBeLessThanOrEqual(a.l0[i]);
    const l0Start = median(both.map((i) => a.l0[i])), l0End = median(both.map((i) => b.l0[i]));
    expect(l0End).toBeLessThan(0.3 * l0Start);
    const broken = [...Array(N).keys()].filter((i) => r.success[i] && b.l1[i] <= 10).length;
    console.log(`pointwise: median L0 ${l0Start} → ${l0End}, median L1 ${median(both.map((i) => b.l1[i])).toFixed(2)}, broken within L1 10: ${broken}/${N}, ${r.queries} queries`);
    expect(broken / N).toBeGreaterThanOrEqual(0.4);
  });

  it('is deterministic: same seed ⇒ identical; an example gets the same result whatever batch it is in', () => {
    const again = run({ seed: 1, batch: 7 });
    expect(again.success).toEqual(r.success);
    expect(again.adv).toEqual(r.adv);
    expect(again.queries).toBe(r.queries);
    // Examples 10 … 19 alone, with their global ids.
    const sub = pointwiseAttack(engine, model, x0.slice(10 * D, 20 * D), y.slice(10, 20), [10, 28, 28, 1], { seed: 1, ids: Int32Array.from({ length: 10 }, (_, k) => 10 + k) });
    expect(sub.success).toEqual(r.success.slice(10, 20));
    expect(sub.adv).toEqual(r.adv.slice(10 * D, 20 * D));
    const other = run({ seed: 2 });
    expect(other.adv).not.toEqual(r.adv);
  });

  it('rejects bad input with a message naming it', () => {
    expect(() => pointwiseAttack(engine, model, x0, y, [N, 28, 28, 2], { seed: 0 })).toThrow(/x0 has 31360 values, shape \[40,28,28,2\] needs 62720/);
    expect(() => pointwiseAttack(engine, model, x0, y.subarray(0, 5), SHAPE, { seed: 0 })).toThrow(/y has 5 labels/);
    const nan = x0.slice();
    nan[123] = NaN;
    expect(() => pointwiseAttack(engine, model, nan, y, SHAPE, { seed: 0 })).toThrow(/NaN at index 123/);
    const big = x0.slice();
    big[7] = 1.5;
    expect(() => pointwiseAttack(engine, model, big, y, SHAPE, { seed: 0 })).toThrow(/must be in \[0, 1\], got 1.5 at index 7/);
    expect(() => pointwiseAttack(engine, model, x0, y, SHAPE, { seed: 0.5 })).toThrow(/seed must be an integer/);
    const y10 = y.slice();
    y10[3] = 10;
    expect(() => pointwiseAttack(engine, model, x0, y10, SHAPE, { seed: 0 })).toThrow(/y\[3\] = 10 is not a class of the model, whose logits have 10 classes/);
    expect(() => pointwiseAttack(engine, model, x0, y, SHAPE, { seed: 0, ids: new Int32Array(3) })).toThrow(/ids has 3 entries/);
    expect(() => pointwiseAttack(engine, model, x0, y, SHAPE, { seed: 0, maxQueries: 0 })).toThrow(/maxQueries must be a positive integer/);
  });
});
