// The attack table (foolbox's test_attacks): every configuration against a small CNN trained here,
// checked for the threat model (ball, box, RT box, affine parts), an accuracy drop, determinism.
// Plus the worst-case rule, L1APGD vs SLIDE, RTPGD vs the grid, and token parsing.
import { afterAll, describe, expect, it } from 'vitest';
import { runAttack, type Attack } from '../../src/attacks/attack.ts';
import { scoreLogits, WorstCase } from '../../src/attacks/core.ts';
import { parseAttack, splitTokens } from '../../src/attacks/parse.ts';
import { Affine } from '../../src/attacks/affine.ts';
import { spatialForward } from '../../src/kernels/spatial.ts';
import { Tensor } from '../../src/tensor.ts';
import { loadEngine } from '../../src/wasm/load.ts';

import { D, N, rowNorm, smallMnistCnn } from '../_helpers/small_cnn.ts';

describe('attacks against a small CNN (MNIST subset)', async () => {
  const engine = await loadEngine({ threads: 2 });
  afterAll(() => engine.close());
  const { model, xs, y, ids } = smallMnistCnn(engine);
  const cleanWrong = engine.arena.scope(() => scoreLogits(model.call(Tensor.from(engine, xs, [N, 28, 28, 1])).toArray(), y).wrong);
  const cleanAcc = 1 - cleanWrong.reduce((a, b) => a + b, 0) / N;

  const attack = (atk: Attack) => engine.arena.scope(() => {
    const x0 = Tensor.from(engine, xs, [N, 28, 28, 1]);
    const out = runAttack(atk, { engine, model, x0, y, ids });
    return { adv: out.adv.toArray(), wrong: out.wrong, aux: out.aux.slice(), gradEvals: out.gradEvals };
  });

  it('the model learned (clean accuracy of the table\'s examples)', () => {
    expect(cleanAcc).toBeGreaterThan(0.8);
  });

  const TABLE: [string, number][] = [
    ['linf:0.3:steps=10', 0.2],
    ['linf:0.1:steps=10:loss=ce:restarts=2', cleanAcc - 0.05],
    ['l2:2:steps=10', 0.6],
    ['l2:2:steps=10:loss=margin:schedule=constant:relstep=0.25', 0.6],
    ['l1:10:steps=10', 0.7],
    ['l1:10:steps=10:projection=l1-then-clip:perc=80-99', 0.85],
    ['l1apgd:10:steps=10', 0.6],
    ['l1apgd:10:steps=10:targets=2:loss=margin:largereps=false', 0.6],
    ['rt:3:30:grid=3x3x7', 0.7],
    ['rtrandom:3:30:tries=5', cleanAcc - 0.02],
    ['rtpgd:3:30:steps=5:restarts=2', 0.7],
    ['affine(linf:0.3+l1:10):steps=5', 0.6],
    ['affine(rt:3:30:grid=2x2x3+linf:0.2):steps=3:beta=0.5', 0.6],
  ];

  for (const [token, maxRobust] of TABLE) {
    it(`${token}: inside its threat model, accuracy drops, same seed ⇒ same result`, () => {
      const atk = parseAttack(token, { seed: 7 });
      const a = attack(atk);
      for (let i = 0; i < a.adv.length; i++) if (!(a.adv[i] >= 0 && a.adv[i] <= 1)) throw new Error(`${token}: adv[${i}] = ${a.adv[i]} outside [0, 1]`);
      if (atk.threat === 'Linf' || atk.threat === 'L2' || atk.threat === 'L1') {
        for (let r = 0; r < N; r++) expect(rowNorm(a.adv, xs, r, atk.threat)).toBeLessThanOrEqual(atk.eps! * (1 + 1e-6) + (atk.threat === 'L1' ? 1e-4 : 1e-5));
      } else if (atk.threat === 'RT') {
        // The result is exactly T(x0) for parameters inside the box.
        const p = a.aux;
        for (let r = 0; r < N; r++) {
          expect(Math.abs(p[3 * r])).toBeLessThanOrEqual((30 * Math.PI) / 180 + 1e-6);
          expect(Math.abs(p[3 * r + 1])).toBeLessThanOrEqual(3 + 1e-6);
          expect(Math.abs(p[3 * r + 2])).toBeLessThanOrEqual(3 + 1e-6);
        }
        const re = engine.arena.scope(() => {
          const out = engine.arena.allocF32(N * D);
          spatialForward(engine, { batch: N, h: 28, w: 28, c: 1, params: engine.fromF32(p), x: engine.fromF32(xs), y: out });
          return engine.toF32(out);
        });
        expect(re).toEqual(a.adv);
      } else {
        // Affine: every part within its weighted budget, and adv = clip(T(x0) + Σ parts).
        const aff = atk as Affine, W = aff.auxWidth, off = aff.rt ? 1 : 0;
        for (let r = 0; r < N; r++) {
          const w = a.aux.subarray(r * W, r * W + aff.K);
          expect(Math.abs(w.reduce((s, v) => s + v, 0) - 1)).toBeLessThan(1e-5);
          aff.norms.forEach((part, k) => {
            const d = a.aux.subarray(r * W + aff.K + 3 + k * D, r * W + aff.K + 3 + (k + 1) * D);
            let n = 0;
            for (const v of d) n = part.threat === 'L1' ? n + Math.abs(v) : part.threat === 'L2' ? n + v * v : Math.max(n, Math.abs(v));
            if (part.threat === 'L2') n = Math.sqrt(n);
            expect(n).toBeLessThanOrEqual(part.eps * w[k + off] * (1 + 1e-5) + 1e-5);
          });
        }
      }
      // The flags are those of a fresh forward pass at the returned points.
      const fresh = engine.arena.scope(() => scoreLogits(model.call(Tensor.from(engine, a.adv, [N, 28, 28, 1])).toArray(), y).wrong);
      expect(Array.from(a.wrong)).toEqual(Array.from(fresh));
      const robust = a.wrong.reduce((s, w, i) => s + (1 - w) * (1 - cleanWrong[i]), 0) / N;
      expect(robust).toBeLessThan(cleanAcc);
      expect(robust).toBeLessThanOrEqual(maxRobust);
      const b = attack(parseAttack(token, { seed: 7 }));
      expect(b.adv).toEqual(a.adv);
      expect(b.wrong).toEqual(a.wrong);
    });
  }

  it('a different seed gives a different random start', () => {
    const a = attack(parseAttack('linf:0.05:steps=1', { seed: 1 }));
    const b = attack(parseAttack('linf:0.05:steps=1', { seed: 2 }));
    expect(b.adv).not.toEqual(a.adv);
  });

  it('an example keeps its random start whatever batch it is in (keyed by its id)', () => {
    const atk = parseAttack('l2:1:steps=0', { seed: 3 });
    const whole = attack(atk);
    const part = engine.arena.scope(() => {
      const rows = [5, 6, 7];
      const x0 = Tensor.from(engine, xs.slice(5 * D, 8 * D), [3, 28, 28, 1]);
      return runAttack(atk, { engine, model, x0, y: y.slice(5, 8), ids: Int32Array.from(rows), earlyStop: false }).adv.toArray();
    });
    expect(part).toEqual(whole.adv.slice(5 * D, 8 * D));
  });

  it('L1APGD finds at least as many adversarial examples as SLIDE at the same ε and budget', () => {
    const slide = attack(parseAttack('l1:6:steps=20', { seed: 1 }));
    const apgd = attack(parseAttack('l1apgd:6:steps=20', { seed: 1 }));
    const count = (w: Uint8Array) => w.reduce((s, v) => s + v, 0);
    expect(count(apgd.wrong)).toBeGreaterThanOrEqual(count(slide.wrong));
    expect(count(apgd.wrong)).toBeGreaterThan(count(cleanWrong));
  });

  it('RTPGD with restarts reaches the grid\'s figure within a few points', () => {
    const grid = attack(parseAttack('rt:3:30', { seed: 1 }));
    const pgd = attack(parseAttack('rtpgd:3:30:steps=10:restarts=8', { seed: 1 }));
    const acc = (w: Uint8Array) => 1 - w.reduce((s, v) => s + v, 0) / N;
    expect(acc(pgd.wrong)).toBeLessThanOrEqual(acc(grid.wrong) + 0.05);
  });

  it('restarts stop on examples already fooled (earlyStop), not without it', () => {
    const atk = parseAttack('linf:0.3:steps=3:restarts=3', { seed: 1 });
    const early = engine.arena.scope(() => runAttack(atk, { engine, model, x0: Tensor.from(engine, xs, [N, 28, 28, 1]), y, ids }).gradEvals);
    const full = engine.arena.scope(() => runAttack(atk, { engine, model, x0: Tensor.from(engine, xs, [N, 28, 28, 1]), y, ids, earlyStop: false }).gradEvals);
    expect(full).toBe(3 * 3 * N);
    expect(early).toBeLessThan(full);
  });
});

describe('worst case per example', async () => {
  const engine = await loadEngine({ threads: 1 });
  afterAll(() => engine.close());

  it('a misclassified point beats a correct one; then the higher cross-entropy wins; NaN never wins', () => {
    const x0 = Tensor.from(engine, [0, 0, 0, 0], [2, 2]);
    const t = new WorstCase(x0);
    const y = Int32Array.of(0, 1);
    // Example 0: correct with CE ln(1 + e^-1); example 1: misclassified.
    t.offer(Tensor.from(engine, [1, 1, 2, 2], [2, 2]), Float32Array.of(1, 0, 3, 0), y);
    expect(Array.from(t.wrong)).toEqual([0, 1]);
    // A correct candidate with higher CE replaces example 0's; a correct one cannot replace example 1's wrong one.
    t.offer(Tensor.from(engine, [3, 3, 4, 4], [2, 2]), Float32Array.of(0.5, 0, 0, 5), y);
    expect(t.adv.toArray()).toEqual(Float32Array.of(3, 3, 2, 2));
    // A misclassified candidate with lower CE than the incumbent correct one still wins.
    t.offer(Tensor.from(engine, [5, 5, 6, 6], [2, 2]), Float32Array.of(0, 0.1, 10, 0), y);
    expect(t.adv.toArray()).toEqual(Float32Array.of(5, 5, 6, 6));
    expect(Array.from(t.wrong)).toEqual([1, 1]);
    t.offer(Tensor.from(engine, [7, 7, 8, 8], [2, 2]), Float32Array.of(NaN, 0, NaN, 0), y);
    expect(t.adv.toArray()).toEqual(Float32Array.of(5, 5, 6, 6));
  });
});

describe('attack tokens', () => {
  it('split at top-level commas; affine keeps its parts', () => {
    expect(splitTokens('linf:0.3,affine(linf:0.3+l1:10):beta=0.5,rt')).toEqual(['linf:0.3', 'affine(linf:0.3+l1:10):beta=0.5', 'rt']);
  });

  it('build the named attacks with their options and fractions', () => {
    const a = parseAttack('linf:8/255:steps=40:restarts=5');
    expect([a.threat, a.eps, a.restarts]).toEqual(['Linf', 8 / 255, 5]);
    expect(parseAttack('rt').cost(784).forwards).toBe(775);
    expect(parseAttack('rt:2:10:grid=3x3x5').cost(784).forwards).toBe(45);
    expect(parseAttack('l1:10', { steps: 7 }).cost(784).gradEvals).toBe(7);
  });

  it('reject mistakes with a message naming the token', () => {
    expect(() => parseAttack('linf:-0.3')).toThrow(/linf:-0.3.*number ≥ 0/);
    expect(() => parseAttack('lnf:0.3')).toThrow(/unknown attack 'lnf:0.3'/);
    expect(() => parseAttack('linf:0.3:bogus=1')).toThrow(/unknown option 'bogus'/);
    expect(() => parseAttack('linf:0.3:steps=1.5')).toThrow(/steps must be an integer/);
    expect(() => parseAttack('linf')).toThrow(/expected linf:EPS/);
    expect(() => parseAttack('affine(linf:0.3)')).toThrow(/at least two/);
    expect(() => parseAttack('affine(linf:0.3+rt)')).toThrow(/listed first/);
    expect(() => splitTokens('affine(linf:0.3,l1:10')).toThrow(/unbalanced/);
  });
});
