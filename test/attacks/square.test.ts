// The Square attack (AutoAttack's version, src/attacks/square.ts) against the small CNN: the
// threat model (ball and box) for L∞, L2 and L1, a real accuracy drop within 1,000 queries,
// determinism and batch independence (per-example streams keyed by id), query accounting, and
// the pure parts (AutoAttack's p schedule, window sides, the meta-pseudo-Gaussian pattern).
import { afterAll, describe, expect, it } from 'vitest';
import { runAttack } from '../../src/attacks/attack.ts';
import { scoreLogits, WorstCase } from '../../src/attacks/core.ts';
import { metaPseudoGaussian, Square, SQUARE_KINDS, squareP, squareRun, squareSide, type SquareThreat } from '../../src/attacks/square.ts';
import { Tensor } from '../../src/tensor.ts';
import { loadEngine } from '../../src/wasm/load.ts';

import { D, N, rowNorm, smallMnistCnn } from '../_helpers/small_cnn.ts';

const SHAPE = [28, 28, 1] as const;

describe('Square: the pure parts', () => {
  it("AutoAttack's p schedule at its breakpoints (10,000 queries: no rescaling)", () => {
    const cases: [number, number][] = [
      [0, 1], [10, 1], [11, 2], [50, 2], [51, 4], [200, 4], [201, 8], [500, 8], [501, 16], [1000, 16], [1001, 32],
      [2000, 32], [2001, 64], [4000, 64], [4001, 128], [6000, 128], [6001, 256], [8000, 256], [8001, 512], [9999, 512],
    ];
    for (const [it, div] of cases) expect(squareP(it, 10000, 0.8), `it ${it}`).toBe(0.8 / div);
  });

  it('the schedule is rescaled as it·10000/queries (5,000 and 1,000 queries)', () => {
    // 5,000 queries: iteration it counts as 2·it.
    for (const [it, div] of [[5, 1], [6, 2], [25, 2], [26, 4], [100, 4], [101, 8], [250, 8], [251, 16], [500, 16], [501, 32], [1000, 32], [1001, 64], [2000, 64], [2001, 128], [3000, 128], [3001, 256], [4000, 256], [4001, 512], [4999, 512]] as const) {
      expect(squareP(it, 5000, 0.8), `5000: it ${it}`).toBe(0.8 / div);
    }
    // 1,000 queries: iteration it counts as 10·it.
    for (const [it, div] of [[1, 1], [2, 2], [5, 2], [6, 4], [20, 4], [21, 8], [50, 8], [51, 16], [100, 16], [101, 32], [200, 32], [201, 64], [400, 64], [401, 128], [600, 128], [601, 256], [800, 256], [801, 512], [999, 512]] as const) {
      expect(squareP(it, 1000, 0.5), `1000: it ${it}`).toBe(0.5 / div);
    }
  });

  it('window sides on MNIST: L∞ ≥ 1; L2/L1 ≥ 3 and odd', () => {
    const ps = Array.from({ length: 10 }, (_, k) => 0.8 / 2 ** k);
    expect(ps.map((p) => squareSide('Linf', p, 28, 28, 1))).toEqual([25, 18, 13, 9, 6, 4, 3, 2, 2, 1]);
    for (const t of ['L2', 'L1'] as const) expect(ps.map((p) => squareSide(t, p, 28, 28, 1))).toEqual([25, 19, 13, 9, 7, 5, 3, 3, 3, 3]);
    // Capped at the image side (p = 1: √784 = 28, made odd, then capped).
    expect(squareSide('L2', 1, 28, 28, 1)).toBe(28);
    expect(squareSide('Linf', 1, 28, 28, 3)).toBe(28);
  });

  it('the meta-pseudo-Gaussian pattern: unit norm, top half positive, bottom half negative, peaked at each half\'s centre', () => {
    for (const norm of ['L2', 'L1'] as const) {
      for (let s = 3; s <= 27; s++) {
        const e = metaPseudoGaussian(s, norm), top = s >> 1;
        let n = 0;
        for (const v of e) n += norm === 'L2' ? v * v : Math.abs(v);
        expect(norm === 'L2' ? Math.sqrt(n) : n).toBeCloseTo(1, 12);
        for (let r = 0; r < s; r++) {
          for (let q = 0; q < s; q++) {
            const v = e[r * s + q];
            if (r < top) expect(v, `${norm} s=${s} (${r},${q})`).toBeGreaterThan(0);
            else expect(v, `${norm} s=${s} (${r},${q})`).toBeLessThan(0);
            // Symmetric left-right (odd sides, the ones the attack uses).
            if (s % 2) expect(v).toBeCloseTo(e[r * s + (s - 1 - q)], 14);
          }
        }
        // Each half is largest (in magnitude) at its centre cell.
        const peak = (r0: number, r1: number) => {
          let best = -1, at = -1;
          for (let j = r0 * s; j < r1 * s; j++) if (Math.abs(e[j]) > best) { best = Math.abs(e[j]); at = j; }
          return at;
        };
        expect(peak(0, top)).toBe((top >> 1) * s + (s >> 1));
        expect(peak(top, s)).toBe((top + ((s - top) >> 1)) * s + (s >> 1));
      }
    }
    // s = 5, L2: each half is a sum of rectangles of weights 1, 1/4, 1/9 around its centre, and
    // holds half the squared mass.
    const e = metaPseudoGaussian(5, 'L2');
    expect(e[1 * 5 + 2] / e[1 * 5 + 0]).toBeCloseTo((1 + 1 / 4 + 1 / 9) / (1 / 9), 12);
    expect(e[0 * 5 + 2] / e[0 * 5 + 0]).toBeCloseTo((1 / 4 + 1 / 9) / (1 / 9), 12);
    expect(e[3 * 5 + 2] / e[2 * 5 + 2]).toBeCloseTo((1 + 1 / 4 + 1 / 9) / (1 / 4 + 1 / 9), 12);
    expect(e.slice(0, 10).reduce((a, v) => a + v * v, 0)).toBeCloseTo(0.5, 12);
    const l1 = metaPseudoGaussian(5, 'L1');
    expect(l1[1 * 5 + 2] / l1[1 * 5 + 0]).toBeCloseTo((1 + 1 / 16 + 1 / 81) / (1 / 81), 10);
    expect(l1.slice(0, 10).reduce((a, v) => a + v, 0)).toBeCloseTo(0.5, 12);
  });

  it('the kinds: square-linf/l2/l1 with queries, pinit, restarts (no CLI flag) and seed; real defaults', () => {
    expect(SQUARE_KINDS.map((k) => k.kind)).toEqual(['square-linf', 'square-l2', 'square-l1']);
    for (const k of SQUARE_KINDS) {
      expect(k.positional).toBe('eps');
      expect(k.options.map((o) => o.key)).toEqual(['queries', 'pinit', 'restarts', 'seed']);
      expect(k.options.find((o) => o.key === 'queries')).toMatchObject({ field: 'maxQueries', type: 'int', min: 1, default: '5000' });
      expect(k.options.find((o) => o.key === 'pinit')).toMatchObject({ type: 'number', default: '0.8' });
      expect(k.options.find((o) => o.key === 'restarts')).toMatchObject({ type: 'int', min: 1, default: '1' });
      expect(k.options.some((o) => o.cli)).toBe(false);
      const atk = k.build({ eps: 0.5 }, `${k.kind}:0.5`) as Square;
      expect(atk).toBeInstanceOf(Square);
      expect(atk.threat).toBe({ 'square-linf': 'Linf', 'square-l2': 'L2', 'square-l1': 'L1' }[k.kind]);
      expect(atk.name).toBe(`${k.kind}:0.5`);
      expect(atk.settings()).toEqual({ queries: 5000, p_init: 0.8, restarts: 1, loss: 'margin', seed: 0 });
      expect(atk.cost()).toEqual({ gradEvals: 0, forwards: 5000 });
    }
    const b = SQUARE_KINDS[2].build({ eps: 10, maxQueries: 300, pinit: 0.3, restarts: 2, seed: 4 }, 'square-l1:10:queries=300') as Square;
    expect(b.settings()).toEqual({ queries: 300, p_init: 0.3, restarts: 2, loss: 'margin', seed: 4 });
    expect(() => new Square('L2', { eps: 1, pinit: 0 })).toThrow(RangeError);
    expect(() => new Square('L2', { eps: 1, pinit: 1.5 })).toThrow(RangeError);
    expect(() => new Square('L2', { eps: 1, maxQueries: 0 })).toThrow(RangeError);
    expect(() => new Square('L1', { eps: -1 })).toThrow(RangeError);
  });
});

describe('Square against a small CNN (MNIST subset)', async () => {
  const engine = await loadEngine({ threads: 2 });
  afterAll(() => engine.close());
  const { model, xs, y, ids } = smallMnistCnn(engine);
  const cleanWrong = engine.arena.scope(() => scoreLogits(model.call(Tensor.from(engine, xs, [N, ...SHAPE])).toArray(), y).wrong);
  const cleanAcc = 1 - cleanWrong.reduce((a, b) => a + b, 0) / N;
  const EPS: Record<SquareThreat, number> = { Linf: 0.3, L2: 2, L1: 10 };
  const MAX_ROBUST: Record<SquareThreat, number> = { Linf: 0.1, L2: 0.5, L1: 0.85 };

  /** runAttack over rows [a, b) (ids kept). */
  const attack = (atk: Square, a = 0, b = N) => engine.arena.scope(() => {
    const x0 = Tensor.from(engine, xs.subarray(a * D, b * D), [b - a, ...SHAPE]);
    const out = runAttack(atk, { engine, model, x0, y: y.slice(a, b), ids: ids.slice(a, b) });
    return { adv: out.adv.toArray(), wrong: out.wrong.slice(), forwards: out.forwards };
  });
  /** squareRun (one run) over all rows. */
  const single = (threat: SquareThreat, queries: number, seed: number) => engine.arena.scope(() =>
    squareRun(engine, model, Tensor.from(engine, xs, [N, ...SHAPE]), y, ids, { threat, eps: EPS[threat], queries, pinit: 0.8, seed }));

  it("the model learned (clean accuracy of the attacked examples)", () => {
    expect(cleanAcc).toBeGreaterThan(0.9);
  });

  for (const threat of ['Linf', 'L2', 'L1'] as const) {
    it(`${threat} ε = ${EPS[threat]}, 1,000 queries: inside the ball and box, robust accuracy well below clean, the tracker keeps the fooled points`, () => {
      const atk = new Square(threat, { eps: EPS[threat], maxQueries: 1000, seed: 7 });
      const t0 = performance.now();
      const a = attack(atk);
      const secs = (performance.now() - t0) / 1000;
      for (let i = 0; i < a.adv.length; i++) if (!(a.adv[i] >= 0 && a.adv[i] <= 1)) throw new Error(`${threat}: adv[${i}] = ${a.adv[i]} outside [0, 1]`);
      let maxNorm = 0;
      for (let r = 0; r < N; r++) {
        const n = rowNorm(a.adv, xs, r, threat);
        maxNorm = Math.max(maxNorm, n);
        expect(n).toBeLessThanOrEqual(EPS[threat] * (1 + 1e-6) + (threat === 'L1' ? 1e-4 : 1e-5));
      }
      // The flags are those of a fresh forward pass at the returned points.
      const fresh = engine.arena.scope(() => scoreLogits(model.call(Tensor.from(engine, a.adv, [N, ...SHAPE])).toArray(), y).wrong);
      expect(Array.from(a.wrong)).toEqual(Array.from(fresh));
      // Every example the run fooled is returned fooled (the same run: seed 7, restart 0).
      const run = single(threat, 1000, 7);
      for (let i = 0; i < N; i++) if (run.fooled[i]) expect(a.wrong[i], `example ${i}`).toBe(1);
      const queries = run.queries.reduce((s, q) => s + q, 0);
      expect(a.forwards).toBeGreaterThanOrEqual(queries);
      expect(a.forwards).toBeLessThanOrEqual(queries + N);
      const robust = a.wrong.reduce((s, w, i) => s + (1 - w) * (1 - cleanWrong[i]), 0) / N;
      console.log(`square ${threat} ε=${EPS[threat]} 1000 queries: clean ${(100 * cleanAcc).toFixed(1)} % → robust ${(100 * robust).toFixed(1)} %, ${queries} queries (${(queries / N).toFixed(0)}/example) in ${secs.toFixed(1)} s (${(queries / secs).toFixed(0)} queries/s), max norm ${maxNorm.toFixed(6)}`);
      expect(robust).toBeLessThanOrEqual(MAX_ROBUST[threat]);
      expect(robust).toBeLessThan(cleanAcc - 0.1);
    });
  }

  for (const threat of ['Linf', 'L2', 'L1'] as const) {
    it(`${threat}: same seed ⇒ same bits, another seed ⇒ another result, a split batch ⇒ the same per-example results`, () => {
      // A small budget (and ε) so that most examples run every query.
      const mk = (seed: number) => new Square(threat, { eps: EPS[threat] / 3, maxQueries: 150, seed });
      const whole = attack(mk(3));
      const again = attack(mk(3));
      expect(again.adv).toEqual(whole.adv);
      expect(again.wrong).toEqual(whole.wrong);
      expect(again.forwards).toBe(whole.forwards);
      const other = attack(mk(4));
      expect(other.adv).not.toEqual(whole.adv);
      const lo = attack(mk(3), 0, 30), hi = attack(mk(3), 30, N);
      expect(lo.adv).toEqual(whole.adv.slice(0, 30 * D));
      expect(hi.adv).toEqual(whole.adv.slice(30 * D));
      expect([...lo.wrong, ...hi.wrong]).toEqual([...whole.wrong]);
      expect(lo.forwards + hi.forwards).toBe(whole.forwards);
    });
  }

  it('queries: an example fooled at its first query costs 1, a robust one every query, never more than n·queries', () => {
    const first = single('Linf', 1, 11);
    const fooledAtStart = Array.from(first.fooled).flatMap((f, i) => (f ? [i] : []));
    expect(first.queries).toEqual(new Int32Array(N).fill(1));
    expect(fooledAtStart.length).toBeGreaterThan(0);
    const run = single('Linf', 200, 11);
    for (let i = 0; i < N; i++) {
      expect(run.queries[i]).toBeGreaterThanOrEqual(1);
      expect(run.queries[i]).toBeLessThanOrEqual(200);
      if (first.fooled[i]) expect(run.queries[i], `example ${i}`).toBe(1);
      else expect(run.queries[i], `example ${i}`).toBeGreaterThan(1);
      if (!run.fooled[i]) expect(run.queries[i], `example ${i}`).toBe(200);
    }
    // runOnce reports exactly the queries made (restart 0: the same draws as squareRun's).
    const atk = new Square('Linf', { eps: EPS.Linf, maxQueries: 200, seed: 11 });
    const used = engine.arena.scope(() => {
      const x0 = Tensor.from(engine, xs, [N, ...SHAPE]);
      const track = new WorstCase(x0);
      const u = atk.runOnce({ engine, model, x0, y, ids }, track, 0, Int32Array.from(ids));
      expect(Array.from(track.wrong)).toEqual(Array.from(run.fooled));
      return u;
    });
    const expected = run.queries.reduce((s, q) => s + q, 0);
    expect(used).toEqual({ gradEvals: 0, forwards: expected });
    expect(used.forwards).toBeLessThanOrEqual(N * 200);
  });

  it('with earlyStop off every example makes every query and a fooled one stays fooled, its margin only falling', () => {
    const stopping = single('Linf', 60, 11);
    const full = engine.arena.scope(() =>
      squareRun(engine, model, Tensor.from(engine, xs, [N, ...SHAPE]), y, ids, { threat: 'Linf', eps: EPS.Linf, queries: 60, pinit: 0.8, seed: 11, stopWhenFooled: false }));
    expect(full.queries).toEqual(new Int32Array(N).fill(60));
    // Until an example is fooled both runs are the same; once fooled it stays fooled.
    for (let i = 0; i < N; i++) if (stopping.fooled[i]) expect(full.fooled[i], `example ${i}`).toBe(1);
    const out = engine.arena.scope(() => {
      const x0 = Tensor.from(engine, xs, [N, ...SHAPE]);
      const r = runAttack(new Square('Linf', { eps: EPS.Linf, maxQueries: 60, seed: 11 }), { engine, model, x0, y, ids, earlyStop: false });
      return { wrong: r.wrong.slice(), forwards: r.forwards };
    });
    expect(out.forwards).toBeGreaterThanOrEqual(N * 60);
    expect(Array.from(out.wrong)).toEqual(Array.from(full.fooled));
  });

  it('restarts: a second restart runs on the examples still robust and keeps every fooled one', () => {
    const one = attack(new Square('L2', { eps: 1, maxQueries: 60, seed: 5 }));
    const two = attack(new Square('L2', { eps: 1, maxQueries: 60, seed: 5, restarts: 2 }));
    const count = (w: Uint8Array) => w.reduce((s, v) => s + v, 0);
    for (let i = 0; i < N; i++) if (one.wrong[i]) expect(two.wrong[i], `example ${i}`).toBe(1);
    expect(count(two.wrong)).toBeGreaterThanOrEqual(count(one.wrong));
    expect(two.forwards).toBeGreaterThan(one.forwards);
    expect(two.forwards).toBeLessThanOrEqual(one.forwards + (N - count(one.wrong)) * 60 + N);
  });
});
