// APGD (apgd.ts), its losses (losses.ts) and the L1-APGD changes (l1apgd.ts): the losses' logit
// gradients against float64 central differences and the one-pass input gradient against central
// differences on the small CNN; the step-halving schedule on hand-made loss sequences; against the
// small CNN (test/_helpers/small_cnn.ts): every kind's output inside its ball and the box, APGD-CE
// at least as strong as PGD with the same steps, APGD-T at least as strong as APGD-CE, seeds,
// batch independence, and L1-APGD's sparse Gaussian start.
import { afterAll, describe, expect, it } from 'vitest';
import { APGD, APGD_KINDS, apgdCheckpoints, apgdScheduleTrace } from '../../src/attacks/apgd.ts';
import { runAttack, type Attack } from '../../src/attacks/attack.ts';
import { argmaxRows, scoreLogits } from '../../src/attacks/core.ts';
import { L1APGD, L1APGD_KINDS, l1RandomStart } from '../../src/attacks/l1apgd.ts';
import { attackLoss, lossInputGrad, type AttackLoss } from '../../src/attacks/losses.ts';
import { L2PGD, LinfPGD } from '../../src/attacks/pgd.ts';
import { noGrad } from '../../src/autograd.ts';
import { Tensor } from '../../src/tensor.ts';
import { loadEngine } from '../../src/wasm/load.ts';

import { rng } from '../_helpers/rng.ts';
import { D, N, rowNorm, smallMnistCnn } from '../_helpers/small_cnn.ts';

describe('attack losses', () => {
  const LOSSES: AttackLoss[] = ['ce', 'margin', 'dlr', 'dlr-t'];
  const B = 6, K = 10;
  const rand = rng(11);
  // Logits with distinct values (no ties within 0.05), labels and targets ≠ labels.
  const logits = new Float64Array(B * K);
  for (let i = 0; i < B; i++) {
    const perm = Array.from({ length: K }, (_, k) => k).sort(() => rand() - 0.5);
    for (let k = 0; k < K; k++) logits[i * K + k] = 3 * (perm[k] / K) - 1.5 + 0.04 * rand();
  }
  const y = Int32Array.from({ length: B }, () => Math.floor(rand() * K));
  const targets = y.map((c) => (c + 1 + Math.floor(rand() * (K - 1))) % K) as Int32Array;

  for (const loss of LOSSES) {
    it(`${loss}: the gradient with respect to the logits matches float64 central differences`, () => {
      const cot = new Float64Array(B * K);
      const v = attackLoss(loss, logits, y, targets, cot);
      const h = 1e-6;
      for (let j = 0; j < B * K; j++) {
        const p = logits.slice(), m = logits.slice();
        p[j] += h;
        m[j] -= h;
        const i = Math.floor(j / K);
        const fd = (attackLoss(loss, p, y, targets)[i] - attackLoss(loss, m, y, targets)[i]) / (2 * h);
        expect(Math.abs(fd - cot[j])).toBeLessThan(1e-7 * Math.max(1, Math.abs(fd)));
      }
      expect(v.every(Number.isFinite)).toBe(true);
    });
  }

  it('values: the definitions, and DLR is invariant to shifting and scaling the logits', () => {
    const z = Float64Array.of(2, 0.5, -1, 1, 3), c = Int32Array.of(0), t = Int32Array.of(3);
    expect(attackLoss('margin', z, c)[0]).toBeCloseTo(1, 12);
    expect(attackLoss('ce', z, c)[0]).toBeCloseTo(Math.log(z.reduce((s, v) => s + Math.exp(v), 0)) - 2, 12);
    // π = (3, 2, 1, 0.5, −1): dlr = −(2 − 3)/(3 − 1); dlr-t = −(2 − 1)/(3 − (1 + 0.5)/2).
    expect(attackLoss('dlr', z, c)[0]).toBeCloseTo(0.5, 10);
    expect(attackLoss('dlr-t', z, c, t)[0]).toBeCloseTo(-1 / 2.25, 10);
    const zs = z.map((v) => 7 * v - 4);
    expect(attackLoss('dlr', zs, c)[0]).toBeCloseTo(0.5, 10);
    expect(attackLoss('dlr-t', zs, c, t)[0]).toBeCloseTo(-1 / 2.25, 10);
  });

  it('the DLR losses refuse too few classes, dlr-t refuses missing targets', () => {
    expect(() => attackLoss('dlr-t', Float64Array.of(1, 2, 3), Int32Array.of(0), Int32Array.of(1))).toThrow(RangeError);
    expect(() => attackLoss('dlr-t', Float64Array.of(1, 2, 3), Int32Array.of(0), Int32Array.of(1))).toThrow(/at least 4 classes/);
    expect(() => attackLoss('dlr', Float64Array.of(1, 2), Int32Array.of(0))).toThrow(/at least 3 classes/);
    expect(() => attackLoss('dlr-t', Float64Array.of(1, 2, 3, 4), Int32Array.of(0))).toThrow(/targets/);
    expect(() => new APGD({ eps: 0.1, restarts: 0 }, 'Linf')).toThrow(/at least one run/);
  });
});

describe('the APGD step-halving schedule (hand-made loss sequences)', () => {
  /** losses[0] = 0, then each step adds the next increment. */
  const walk = (incs: number[]) => incs.reduce((acc, d) => [...acc, acc[acc.length - 1] + d], [0]);
  const rep = (n: number, v: number) => Array<number>(n).fill(v);

  it("AutoAttack's checkpoints for 100 steps: windows 22, 19, 16, 13, 10, 7, 6, 6", () => {
    expect(apgdCheckpoints(100)).toEqual({ first: 22, decr: 3, min: 6 });
    expect(apgdCheckpoints(10)).toEqual({ first: 2, decr: 1, min: 1 });
    expect(apgdScheduleTrace(walk(rep(100, 1))).checks).toEqual([22, 41, 57, 70, 80, 87, 93, 99]);
  });

  it('a loss that always rises never halves; a flat loss halves at every checkpoint', () => {
    expect(apgdScheduleTrace(walk(rep(100, 1))).halved).toEqual([]);
    expect(apgdScheduleTrace(walk(rep(100, 0))).halved).toEqual([22, 41, 57, 70, 80, 87, 93, 99]);
  });

  it('halves when the loss rose in ≤ 75 % of the steps since the last checkpoint (16 of 22 halves, 17 does not)', () => {
    const tail = rep(78, 1);
    expect(apgdScheduleTrace(walk([...rep(16, 1), ...rep(6, -0.1), ...tail])).halved[0]).toBe(22);
    expect(apgdScheduleTrace(walk([...rep(17, 1), ...rep(5, -0.1), ...tail])).halved).toEqual([]);
  });

  it('halves when the best loss did not improve since a checkpoint that did not halve (not twice in a row)', () => {
    const seq = [
      ...rep(22, 1), // window 1 (t 1–22): rises to 22, no halving
      -22, ...rep(18, 1), // window 2 (t 23–41): 18 rises of 19, best stays 22 → halves at 41
      -18, ...rep(15, 1), // window 3 (t 42–57): 15 rises of 16, best stays 22, but it halved at 41 → none
      -15, ...rep(12, 1), // window 4 (t 58–70): 12 rises of 13, best stays 22 → halves at 70
      ...rep(30, 10), // then new bests every step
    ];
    const s = walk(seq);
    expect(s.length).toBe(101);
    expect(apgdScheduleTrace(s).halved).toEqual([41, 70]);
  });
});

describe('APGD against a small CNN (MNIST subset)', async () => {
  const engine = await loadEngine({ threads: 2 });
  afterAll(() => engine.close());
  const { model, xs, y, ids } = smallMnistCnn(engine);
  const cleanWrong = engine.arena.scope(() => scoreLogits(model.call(Tensor.from(engine, xs, [N, 28, 28, 1])).toArray(), y).wrong);
  const KINDS = [...APGD_KINDS, ...L1APGD_KINDS];
  const build = (kind: string, o: Record<string, unknown>) => KINDS.find((k) => k.kind === kind)!.build(o, `${kind}:${o.eps}`);
  const attack = (atk: Attack, rows?: number[]) => engine.arena.scope(() => {
    const r = rows ?? Array.from({ length: N }, (_, i) => i);
    const x0 = Tensor.from(engine, r.flatMap((i) => Array.from(xs.subarray(i * D, (i + 1) * D))), [r.length, 28, 28, 1]);
    const out = runAttack(atk, { engine, model, x0, y: Int32Array.from(r, (i) => y[i]), ids: Int32Array.from(r, (i) => ids[i]) });
    return { adv: out.adv.toArray(), wrong: out.wrong.slice(), gradEvals: out.gradEvals };
  });
  const robust = (w: Uint8Array) => w.reduce((s, v) => s + 1 - v, 0);
  const logitsOf = (x: Float32Array) => engine.arena.scope(() => noGrad(() => model.call(Tensor.from(engine, x, [x.length / D, 28, 28, 1])).toArray()));

  it('the one-pass input gradient matches central differences of the loss on the CNN (pixels away from kinks)', () => {
    const n = 4, x = xs.slice(0, n * D), yy = y.slice(0, n), t = Int32Array.from(yy, (c) => (c + 3) % 10);
    for (const loss of ['ce', 'margin', 'dlr', 'dlr-t'] as AttackLoss[]) {
      const { g, values, logits } = engine.arena.scope(() => {
        const r = lossInputGrad(model, Tensor.from(engine, x, [n, 28, 28, 1]), yy, loss, t);
        return { g: r.g.toArray(), values: r.values, logits: r.logits };
      });
      expect(Array.from(values)).toEqual(Array.from(attackLoss(loss, logits, yy, t)));
      const f = (v: Float32Array, ex: number) => attackLoss(loss, logitsOf(v), yy, t)[ex];
      for (const ex of [1, 2]) {
        // Interior pixels (not 0 or 1: a flat background has pooling ties) by decreasing |gradient|;
        // the ReLU network is piecewise linear, so a pixel whose two one-sided differences disagree
        // has a kink within ±h and is skipped.
        const order = Array.from({ length: D }, (_, j) => ex * D + j).filter((j) => x[j] > 0.05 && x[j] < 0.95).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]));
        const h = 1e-3, f0 = f(x, ex);
        let checked = 0;
        for (const j of order.slice(0, 12)) {
          const p = x.slice(), m = x.slice();
          p[j] += h;
          m[j] -= h;
          const fp = f(p, ex), fm = f(m, ex);
          if (Math.abs(fp - f0 - (f0 - fm)) > 0.01 * Math.abs(fp - fm) + 1e-6) continue;
          expect(Math.abs((fp - fm) / (2 * h) - g[j])).toBeLessThan(0.01 * Math.abs(g[j]) + 2e-4);
          if (++checked === 3) break;
        }
        expect(checked).toBeGreaterThanOrEqual(2);
      }
    }
  });

  const BALL: [string, number][] = [['apgd-linf', 0.3], ['apgd-l2', 2], ['apgdt-linf', 0.3], ['apgdt-l2', 2], ['apgd-l1', 10], ['apgdt-l1', 10], ['l1apgd', 10]];
  for (const [kind, eps] of BALL) {
    it(`${kind}:${eps}: inside the ball and the box, flags from a fresh forward, accuracy drops`, () => {
      const atk = build(kind, { eps, steps: 10, seed: 7 });
      const a = attack(atk);
      for (let i = 0; i < a.adv.length; i++) if (!(a.adv[i] >= 0 && a.adv[i] <= 1)) throw new Error(`${kind}: adv[${i}] = ${a.adv[i]} outside [0, 1]`);
      for (let r = 0; r < N; r++) expect(rowNorm(a.adv, xs, r, atk.threat as 'Linf')).toBeLessThanOrEqual(eps * (1 + 1e-6) + (atk.threat === 'L1' ? 1e-4 : 1e-5));
      const fresh = scoreLogits(logitsOf(a.adv), y).wrong;
      expect(Array.from(a.wrong)).toEqual(Array.from(fresh));
      expect(robust(a.wrong)).toBeLessThan(robust(cleanWrong));
      expect(Object.keys(atk.settings())).toContain('steps');
    });
  }

  it('the kinds build with their defaults: APGD-CE 1 run, APGD-T 9 targeted runs (L1: 5, large reps), l1apgd unchanged', () => {
    const s = (kind: string) => build(kind, { eps: 1, seed: 0 }).settings();
    expect(s('apgd-linf')).toMatchObject({ steps: 100, restarts: 1, targets: 0, loss: 'ce', random_start: true });
    expect(s('apgdt-l2')).toMatchObject({ steps: 100, restarts: 0, targets: 9, targeted_loss: 'dlr-t' });
    expect(s('l1apgd')).toMatchObject({ steps: 100, restarts: 1, targets: 0, loss: 'ce', large_reps: true });
    expect(s('apgd-l1')).toEqual(s('l1apgd'));
    expect(s('apgdt-l1')).toMatchObject({ restarts: 0, targets: 5, large_reps: true, targeted_loss: 'dlr-t' });
    expect(build('apgdt-linf', { eps: 1, seed: 0 }).restarts).toBe(9);
    for (const k of KINDS) {
      const steps = k.options.find((o) => o.key === 'steps')!, restarts = k.options.find((o) => o.key === 'restarts')!;
      expect(steps.cli).toBe('steps');
      expect(restarts.cli).toBe(k.kind.startsWith('apgdt') ? undefined : 'restarts');
    }
  });

  // Budgets where the model is neither intact nor broken at 20 steps (at 0.3 / 2 it is: ≤ 6 of 60
  // robust): L∞ 0.1, L2 1.25. PGD with its defaults (L∞: margin, 2.5·ε/steps; L2: CE, 0.5·ε cosine).
  it('APGD-CE leaves no more examples robust than PGD with the same steps (L∞ 0.1, L2 1.25)', () => {
    const rows: string[] = [];
    for (const [pgd, apgd] of [[new LinfPGD({ eps: 0.1, steps: 20, seed: 1 }), new APGD({ eps: 0.1, steps: 20, seed: 1 }, 'Linf')], [new L2PGD({ eps: 1.25, steps: 20, seed: 1 }), new APGD({ eps: 1.25, steps: 20, seed: 1 }, 'L2')]] as const) {
      const p = robust(attack(pgd).wrong), a = robust(attack(apgd).wrong);
      rows.push(`${pgd.name} ${p}/${N} vs ${apgd.name} ${a}/${N}`);
      expect(a).toBeLessThanOrEqual(p);
      expect(a).toBeGreaterThan(0);
    }
    console.log(`robust examples (20 steps): ${rows.join('; ')}`);
  });

  it('APGD-T (9 targets) leaves no more robust than APGD-CE; per example, it fools more of the examples where the two disagree (L∞ 0.08)', () => {
    const ce = attack(new APGD({ eps: 0.08, steps: 20, seed: 1 }, 'Linf'));
    const t = attack(new APGD({ eps: 0.08, steps: 20, seed: 1, restarts: 0, targets: 9 }, 'Linf'));
    expect(robust(t.wrong)).toBeLessThanOrEqual(robust(ce.wrong));
    expect(robust(t.wrong)).toBeGreaterThan(0);
    // Per-example outcome (robust = 1): APGD-T ≤ APGD-CE on more examples than the reverse.
    const tOnly = t.wrong.filter((w, i) => w && !ce.wrong[i]).length, ceOnly = ce.wrong.filter((w, i) => w && !t.wrong[i]).length;
    console.log(`APGD-T vs APGD-CE (L∞ 0.08, 20 steps): robust ${robust(t.wrong)} vs ${robust(ce.wrong)} of ${N}; fooled by T only ${tOnly}, by CE only ${ceOnly}`);
    expect(tOnly).toBeGreaterThan(ceOnly);
  });

  it('same seed ⇒ same bits; another seed ⇒ another result (L∞, L2, L1)', () => {
    for (const kind of ['apgd-linf', 'apgd-l2', 'apgd-l1']) {
      const eps = kind.endsWith('l1') ? 3 : kind.endsWith('l2') ? 0.5 : 0.03;
      const a = attack(build(kind, { eps, steps: 5, seed: 4 }));
      const b = attack(build(kind, { eps, steps: 5, seed: 4 }));
      const c = attack(build(kind, { eps, steps: 5, seed: 5 }));
      expect(b.adv).toEqual(a.adv);
      expect(b.wrong).toEqual(a.wrong);
      expect(c.adv).not.toEqual(a.adv);
    }
  });

  it('an example gets the same result whatever batch it is in (rows 0–29 and 30–59 vs all 60)', () => {
    for (const atk of [new APGD({ eps: 0.08, steps: 8, seed: 2, restarts: 1, targets: 2 }, 'Linf'), new APGD({ eps: 1, steps: 8, seed: 2, loss: 'dlr' }, 'L2'), new L1APGD({ eps: 5, steps: 10, seed: 2, targets: 1 })]) {
      const whole = attack(atk);
      const lo = attack(atk, Array.from({ length: 30 }, (_, i) => i)), hi = attack(atk, Array.from({ length: 30 }, (_, i) => 30 + i));
      expect(lo.adv).toEqual(whole.adv.slice(0, 30 * D));
      expect(hi.adv).toEqual(whole.adv.slice(30 * D));
      expect([...lo.wrong, ...hi.wrong]).toEqual([...whole.wrong]);
    }
  });

  it("L1-APGD's random start is AutoAttack's: a N(0, 1) draw projected exactly onto the L1 ball ∩ box, hence sparse", () => {
    const { delta, again } = engine.arena.scope(() => {
      const x0 = Tensor.from(engine, xs, [N, 28, 28, 1]);
      const d = engine.arena.allocF32(N * D), e = engine.arena.allocF32(N * D);
      l1RandomStart(engine, d, x0, 10, ids, 3);
      l1RandomStart(engine, e, x0, 10, ids, 3);
      return { delta: engine.toF32(d), again: engine.toF32(e) };
    });
    expect(again).toEqual(delta);
    let nonzero = 0;
    for (let r = 0; r < N; r++) {
      let l1 = 0;
      for (let j = r * D; j < (r + 1) * D; j++) {
        l1 += Math.abs(delta[j]);
        if (delta[j] !== 0) nonzero++;
        expect(xs[j] + delta[j]).toBeGreaterThanOrEqual(-1e-6);
        expect(xs[j] + delta[j]).toBeLessThanOrEqual(1 + 1e-6);
      }
      expect(l1).toBeLessThanOrEqual(10 * (1 + 1e-5));
      expect(l1).toBeGreaterThan(9.99);
    }
    // A rescaled dense start would move every coordinate; this one moves few.
    expect(nonzero / N).toBeLessThan(0.2 * D);
    // randomStart: false starts from x0 and still works.
    const a = attack(new L1APGD({ eps: 10, steps: 10, seed: 3, randomStart: false }));
    for (let r = 0; r < N; r++) expect(rowNorm(a.adv, xs, r, 'L1')).toBeLessThanOrEqual(10 * (1 + 1e-6) + 1e-4);
    expect(robust(a.wrong)).toBeLessThan(robust(cleanWrong));
  });

  it('counts its model evaluations: steps per run and example, one forward (two for a targeted run)', () => {
    const atk = new APGD({ eps: 0.01, steps: 3, seed: 1, restarts: 1, targets: 1 }, 'L2');
    const out = engine.arena.scope(() => runAttack(atk, { engine, model, x0: Tensor.from(engine, xs, [N, 28, 28, 1]), y, ids, earlyStop: false }));
    expect(out.gradEvals).toBe(2 * 3 * N);
    expect(out.forwards).toBeGreaterThanOrEqual(3 * N);
    expect(argmaxRows(logitsOf(out.adv.toArray()), N).length).toBe(N);
  });
});
