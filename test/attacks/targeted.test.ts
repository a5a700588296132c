// Targeted attacks of the PGD family (AttackBatch.targets, issue 19): against a small CNN trained
// here, every output stays in its ε-ball and [0, 1]; the fraction classified as the target rises
// from ~0 at x0 to most examples; the flags are "classified as the target" from a fresh forward;
// same seed ⇒ same bits; attacks that cannot aim refuse targets; bad targets are errors. Plus the
// targeted ranking of scoreLogits and WorstCase.
import { afterAll, describe, expect, it } from 'vitest';
import { runAttack } from '../../src/attacks/attack.ts';
import { argmaxRows, scoreLogits, WorstCase } from '../../src/attacks/core.ts';
import { parseAttack } from '../../src/attacks/parse.ts';
import { Tensor } from '../../src/tensor.ts';
import { loadEngine } from '../../src/wasm/load.ts';

import { D, N, rowNorm, smallMnistCnn } from '../_helpers/small_cnn.ts';

describe('targeted PGD against a small CNN (MNIST subset)', async () => {
  const engine = await loadEngine({ threads: 2 });
  afterAll(() => engine.close());
  const { model, xs, y, ids } = smallMnistCnn(engine);
  const targets = y.map((c) => (c + 1) % 10) as Int32Array;
  const predict = (x: Float32Array) => engine.arena.scope(() => argmaxRows(model.call(Tensor.from(engine, x, [N, 28, 28, 1])).toArray(), N));
  const hitRate = (pred: Int32Array) => pred.reduce((s, p, i) => s + (p === targets[i] ? 1 : 0), 0) / N;
  const run = (token: string, t: Int32Array | null = targets) => engine.arena.scope(() => {
    const out = runAttack(parseAttack(token, { seed: 3 }), { engine, model, x0: Tensor.from(engine, xs, [N, 28, 28, 1]), y, ids, ...(t ? { targets: t } : {}) }, { earlyStop: false });
    return { adv: out.adv.toArray(), wrong: out.wrong.slice(), ce: out.ce.slice() };
  });

  it('at x0 almost no example is classified as (y + 1) mod 10', () => {
    expect(hitRate(predict(xs))).toBeLessThan(0.1);
  });

  for (const [token, minHit] of [['linf:0.3:steps=10', 0.8], ['l2:3:steps=10', 0.6], ['l1:20:steps=10', 0.3], ['linf:0.3:steps=10:loss=ce', 0.8]] as const) {
    it(`${token}: inside ball and box, reaches the target, flags = "predicted as t" by a fresh forward, deterministic`, () => {
      const atk = parseAttack(token);
      const a = run(token);
      for (let i = 0; i < a.adv.length; i++) if (!(a.adv[i] >= 0 && a.adv[i] <= 1)) throw new Error(`${token}: adv[${i}] = ${a.adv[i]} outside [0, 1]`);
      for (let r = 0; r < N; r++) expect(rowNorm(a.adv, xs, r, atk.threat)).toBeLessThanOrEqual(atk.eps! * (1 + 1e-6) + (atk.threat === 'L1' ? 1e-4 : 1e-5));
      const pred = predict(a.adv);
      expect(Array.from(a.wrong)).toEqual(Array.from(pred, (p, i) => (p === targets[i] ? 1 : 0)));
      expect(hitRate(pred)).toBeGreaterThanOrEqual(minHit);
      // Scores are −CE to the target (≤ 0).
      for (const c of a.ce) expect(c).toBeLessThanOrEqual(0);
      expect(run(token).adv).toEqual(a.adv);
    });
  }

  it('more steps reach the target more often; an untargeted run is not aimed at t', () => {
    const few = hitRate(predict(run('l2:2:steps=1:randomstart=false').adv));
    const many = hitRate(predict(run('l2:2:steps=20').adv));
    expect(many).toBeGreaterThan(few + 0.2);
    const untargeted = run('l2:2:steps=20', null);
    expect(hitRate(predict(untargeted.adv))).toBeLessThan(many);
  });

  it('attacks that cannot aim refuse targets; wrong counts and classes are errors', () => {
    const x0 = () => Tensor.from(engine, xs, [N, 28, 28, 1]);
    expect(() => engine.arena.scope(() => runAttack(parseAttack('rt:3:30:grid=2x2x3'), { engine, model, x0: x0(), y, ids, targets }))).toThrow(/does not take per-example targets/);
    expect(() => engine.arena.scope(() => runAttack(parseAttack('l1apgd:10:steps=2'), { engine, model, x0: x0(), y, ids, targets }))).toThrow(/does not take per-example targets/);
    expect(() => engine.arena.scope(() => runAttack(parseAttack('linf:0.3:steps=2'), { engine, model, x0: x0(), y, ids, targets: targets.subarray(1) }))).toThrow(/expected 60 targets/);
    const bad = targets.slice();
    bad[4] = 10;
    expect(() => engine.arena.scope(() => runAttack(parseAttack('linf:0.3:steps=2'), { engine, model, x0: x0(), y, ids, targets: bad }))).toThrow(/targets\[4\] = 10 is not a class/);
    expect(() => engine.arena.scope(() => runAttack(parseAttack('l2:2:steps=2'), { engine, model, x0: x0(), y, ids, targets: bad }))).toThrow(/targets\[4\] = 10 is not a class/);
  });
});

describe('targeted scores', async () => {
  const engine = await loadEngine({ threads: 1 });
  afterAll(() => engine.close());

  it('scoreLogits with targets: success = predicted as t, score = −CE to t', () => {
    const logits = Float32Array.of(2, 0, 0, 0, 3, 0);
    const s = scoreLogits(logits, Int32Array.of(0, 0), Int32Array.of(1, 1));
    expect(Array.from(s.wrong)).toEqual([0, 1]);
    const lse0 = Math.log(Math.exp(2) + 2), lse1 = Math.log(Math.exp(3) + 2);
    expect(s.ce[0]).toBeCloseTo(0 - lse0, 12);
    expect(s.ce[1]).toBeCloseTo(3 - lse1, 12);
    // Without targets: the untargeted scores, unchanged.
    const u = scoreLogits(logits, Int32Array.of(0, 0));
    expect(Array.from(u.wrong)).toEqual([0, 1]);
    expect(u.ce[0]).toBeCloseTo(lse0 - 2, 12);
  });

  it('a targeted WorstCase keeps the point classified as t, then the one closest to t (rows map to its targets)', () => {
    const x0 = Tensor.from(engine, [0, 0, 0, 0], [2, 2]);
    const t = new WorstCase(x0, 0, Int32Array.of(1, 2));
    const y = Int32Array.of(0, 0);
    // Row 0: predicted 0 (not its target 1); row 1: predicted 2 = its target.
    t.offer(Tensor.from(engine, [1, 1, 2, 2], [2, 2]), Float32Array.of(3, 1, 0, 0, 0, 4), y);
    expect(Array.from(t.wrong)).toEqual([0, 1]);
    // Misclassified as another class (2) does not count for row 0; a lower CE to t = 1 does.
    t.offer(Tensor.from(engine, [3, 3, 4, 4], [2, 2]), Float32Array.of(0, 1, 2, 0, 0, 1), y);
    expect(t.adv.toArray()).toEqual(Float32Array.of(3, 3, 2, 2));
    expect(Array.from(t.wrong)).toEqual([0, 1]);
    // A sub-batch row (rows = [1]) is scored against tracker row 1's target.
    t.offer(Tensor.from(engine, [5, 5], [1, 2]), Float32Array.of(0, 0, 9), Int32Array.of(0), Int32Array.of(1));
    expect(t.adv.toArray()).toEqual(Float32Array.of(3, 3, 5, 5));
  });
});
