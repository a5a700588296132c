// Boundary attack (src/attacks/boundary.ts) against a small CNN trained here on an MNIST subset.
import { afterAll, describe, expect, it } from 'vitest';
import { boundaryAttack } from '../../src/attacks/boundary.ts';
import { predictLabels } from '../../src/attacks/decision.ts';
import { loadEngine } from '../../src/wasm/load.ts';
import { smallMnistCnn } from '../_helpers/small_cnn.ts';

const N = 40, D = 784;
const SHAPE = [N, 28, 28, 1] as const;

function l2(adv: Float32Array, x0: Float32Array, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = i * D; d < (i + 1) * D; d++) s += (adv[d] - x0[d]) ** 2;
    out[i] = Math.sqrt(s);
  }
  return out;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

describe('boundaryAttack (small CNN, MNIST subset)', async () => {
  const engine = await loadEngine({ threads: 2 });
  afterAll(() => engine.close());
  const { model, epochs, xs: x0, y } = smallMnistCnn(engine, { seed: 3, batches: 200, n: N });
  const clean = predictLabels(engine, model, x0, SHAPE);
  const correct = [...Array(N).keys()].filter((i) => clean[i] === y[i]);
  const run = (opts: Parameters<typeof boundaryAttack>[5]) => boundaryAttack(engine, model, x0, y, SHAPE, opts);
  const r = run({ seed: 1 });

  it('outputs stay in [0, 1]; successes are misclassified, failures are x0', () => {
    expect(epochs[0].testAcc).toBeGreaterThan(0.8);
    expect(r.adv.length).toBe(N * D);
    for (const v of r.adv) expect(v >= 0 && v <= 1).toBe(true);
    const labels = predictLabels(engine, model, r.adv, SHAPE, 16);
    for (let i = 0; i < N; i++) {
      if (r.success[i]) expect(labels[i], `example ${i}`).not.toBe(y[i]);
      else expect(r.adv.subarray(i * D, (i + 1) * D)).toEqual(x0.subarray(i * D, (i + 1) * D));
      if (clean[i] !== y[i]) expect(r.success[i]).toBe(1);
    }
    expect(correct.every((i) => r.success[i])).toBe(true);
  });

  it('the iterations shrink the L2 distance of the start; most examples are broken within L2 2', () => {
    const start = run({ seed: 1, steps: 0 });
    const a = l2(start.adv, x0, N), b = l2(r.adv, x0, N);
    for (const i of correct) expect(b[i], `example ${i}`).toBeLessThanOrEqual(a[i]);
    const m0 = median(correct.map((i) => a[i])), m1 = median(correct.map((i) => b[i]));
    expect(m1).toBeLessThan(0.9 * m0);
    const broken = [...Array(N).keys()].filter((i) => r.success[i] && b[i] <= 2).length;
    console.log(`boundary: median L2 ${m0.toFixed(3)} (start) → ${m1.toFixed(3)}, broken within L2 2: ${broken}/${N}, ${r.queries} queries`);
    expect(broken / N).toBeGreaterThanOrEqual(0.4);
    // The noise start alone (foolbox's default) is adversarial for most examples (pure noise can
    // be classified as the true class), and further away than the start from other examples.
    const noise = run({ seed: 1, steps: 0, start: 'noise' });
    const c = l2(noise.adv, x0, N);
    const found = correct.filter((i) => noise.success[i]);
    expect(found.length).toBeGreaterThan(0.7 * correct.length);
    expect(median(found.map((i) => c[i]))).toBeGreaterThan(median(found.map((i) => a[i])));
  });

  it('is deterministic: same seed ⇒ identical, whatever the forward batch; different seed ⇒ different', () => {
    const again = run({ seed: 1, batch: 9 });
    expect(again.success).toEqual(r.success);
    expect(again.adv).toEqual(r.adv);
    expect(again.queries).toBe(r.queries);
    const other = run({ seed: 2, steps: 50 });
    expect(other.adv).not.toEqual(r.adv);
    // With the noise start (no other example involved), examples 10 … 19 alone, with their global
    // ids, get the same result as in the whole call.
    const whole = run({ seed: 3, steps: 30, start: 'noise' });
    const sub = boundaryAttack(engine, model, x0.slice(10 * D, 20 * D), y.slice(10, 20), [10, 28, 28, 1], { seed: 3, steps: 30, start: 'noise', ids: Int32Array.from({ length: 10 }, (_, k) => 10 + k) });
    expect(sub.success).toEqual(whole.success.slice(10, 20));
    expect(sub.adv).toEqual(whole.adv.slice(10 * D, 20 * D));
  });

  it('rejects bad input with a message naming it', () => {
    expect(() => boundaryAttack(engine, model, x0, y, [N, 28, 28], { seed: 0 } as never)).toThrow(/shape must be \[n, h, w, c\]/);
    expect(() => boundaryAttack(engine, model, x0.subarray(1), y, SHAPE, { seed: 0 })).toThrow(/x0 has 31359 values/);
    const nan = x0.slice();
    nan[5] = NaN;
    expect(() => boundaryAttack(engine, model, nan, y, SHAPE, { seed: 0 })).toThrow(/NaN at index 5/);
    const neg = x0.slice();
    neg[9] = -0.25;
    expect(() => boundaryAttack(engine, model, neg, y, SHAPE, { seed: 0 })).toThrow(/must be in \[0, 1\], got -0.25 at index 9/);
    expect(() => boundaryAttack(engine, model, x0, y, SHAPE, { seed: 0, steps: -1 })).toThrow(/steps must be an integer ≥ 0/);
    expect(() => boundaryAttack(engine, model, x0, y, SHAPE, { seed: 0, candidates: 0 })).toThrow(/candidates must be an integer ≥ 1/);
    expect(() => boundaryAttack(engine, model, x0, y, SHAPE, { seed: 0, start: 'bogus' as never })).toThrow(/start must be 'batch' or 'noise'/);
  });
});
