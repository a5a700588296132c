// evaluate(): the union is the per-example AND of the attacks' flags (hand-computed case), threat
// models group by type, gradient masking is flagged, an interrupted run resumes, bad data is refused.
// The model is linear on 2×2 images (logit k = pixel k), so every flag is known by hand.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Attack, ThreatName } from '../../src/attacks/attack.ts';
import { logitsAt, type AttackBatch, type WorstCase } from '../../src/attacks/core.ts';
import { evaluate, formatReport, type EvalData } from '../../src/eval/evaluate.ts';
import { Rng } from '../../src/nn/init.ts';
import { Dense, Flatten, Sequential } from '../../src/nn/layers.ts';
import { Tensor } from '../../src/tensor.ts';
import { loadEngine } from '../../src/wasm/load.ts';

/** An attack that swaps pixels 0 and 1 (the two logits) of the examples whose ids it is given. */
class Swap implements Attack {
  readonly restarts = 1;
  readonly auxWidth = 0;
  constructor(readonly name: string, readonly threat: ThreatName, readonly ids: number[], readonly crashOn = -1) {}
  get eps(): number {
    return 1;
  }
  cost() {
    return { gradEvals: 1, forwards: 0 };
  }
  runOnce(b: AttackBatch, track: WorstCase, _r: number, rows: Int32Array): void {
    if (b.ids.includes(this.crashOn)) throw new Error('simulated crash');
    const x = Tensor.from(b.engine, b.x0.view(), b.x0.shape);
    const v = x.view();
    b.ids.forEach((id, r) => {
      if (this.ids.includes(id)) [v[4 * r], v[4 * r + 1]] = [v[4 * r + 1], v[4 * r]];
    });
    track.offer(x, logitsAt(b.model, x), b.y, rows);
  }
  enforce(): void {}
  settings() {
    return { swaps: this.ids.join(' ') };
  }
}

describe('evaluate (linear model on 2×2 images)', async () => {
  const engine = await loadEngine({ threads: 1 });
  afterAll(() => engine.close());
  const dense = new Dense(engine, 4, 2, { rng: new Rng(0) });
  dense.weight.view().set([1, 0, 0, 1, 0, 0, 0, 0]);
  dense.bias.view().fill(0);
  const model = new Sequential([new Flatten(), dense]);
  const pixels = [[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4], [0.1, 0.6], [0.8, 0.5]];
  const data: EvalData = {
    images: Float32Array.from(pixels.flatMap(([a, b]) => [a, b, 0, 0])),
    labels: Int32Array.of(0, 1, 0, 1, 1, 0), // example 3 is misclassified clean
    height: 2, width: 2, channels: 1,
  };
  const attacks = () => [new Swap('a', 'Linf', [0, 1]), new Swap('b', 'L2', [1, 2]), new Swap('c', 'Linf', [4])];

  it('union = per-example AND of clean and every attack; threat models AND within their type', () => {
    const r = evaluate(engine, model, data, { attacks: attacks(), batch: 4 });
    expect(r.n).toBe(6);
    expect(r.clean_accuracy).toBeCloseTo(5 / 6, 12);
    expect(r.attacks.map((a) => a.robust_accuracy)).toEqual([3 / 6, 3 / 6, 4 / 6]);
    expect(r.per_example.clean).toEqual([1, 1, 1, 0, 1, 1]);
    expect(r.per_example.attacks.a).toEqual([0, 0, 1, 0, 1, 1]);
    expect(r.threat_models).toEqual({ Linf: 2 / 6, L2: 3 / 6 });
    expect(r.union_accuracy).toBe(1 / 6);
    expect(r.checks.find((c) => c.name === 'inside ball and box')!.ok).toBe(true);
    expect(formatReport(r)).toMatch(/union \(all attacks\): 16\.7 %/);
    expect(r.checks.find((c) => c.name === 'gradient masking (Linf)')!.ran).toBe(false);
    expect(formatReport(r)).toMatch(/n\/a  gradient masking \(Linf\): not run \(no score- or decision-based attack/);
  });

  it('flags gradient masking when a gradient-free attack breaks what the first-order ones did not', () => {
    const r = evaluate(engine, model, data, { attacks: [new Swap('l2:1', 'L2', [0]), new Swap('boundary:1', 'L2', [0, 1, 2])] });
    const check = r.checks.find((c) => c.name === 'gradient masking (L2)')!;
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/^2 of 6 examples/);
    expect(r.warnings.join('\n')).toMatch(/gradient masking suspected \(L2\)/);
    const fine = evaluate(engine, model, data, { attacks: [new Swap('l2:1', 'L2', [0, 1, 2]), new Swap('boundary:1', 'L2', [0, 1])] });
    expect(fine.checks.find((c) => c.name === 'gradient masking (L2)')!.ok).toBe(true);
  });

  it('an interrupted evaluation resumes from its state file and ends as an uninterrupted one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eval-'));
    const statePath = join(dir, 'state.json');
    const whole = evaluate(engine, model, data, { attacks: attacks(), batch: 2 });
    const crashing = [new Swap('a', 'Linf', [0, 1]), new Swap('b', 'L2', [1, 2], 4), new Swap('c', 'Linf', [4])];
    expect(() => evaluate(engine, model, data, { attacks: crashing, batch: 2, statePath })).toThrow(/simulated crash/);
    const lines: string[] = [];
    const resumed = evaluate(engine, model, data, { attacks: attacks(), batch: 2, statePath, log: (l) => lines.push(l) });
    expect(lines[0]).toMatch(/resuming from .*state\.json: 4 of 6 examples done/);
    expect(resumed.per_example).toEqual(whole.per_example);
    expect(resumed.union_accuracy).toBe(whole.union_accuracy);
    // A state file of another evaluation (other attacks) is refused, never mixed.
    expect(() => evaluate(engine, model, data, { attacks: [new Swap('z', 'L1', [])], batch: 2, statePath })).toThrow(/belongs to another evaluation/);
  });

  it('a state left by the same attack names with other settings is refused (regression: it was resumed and mixed)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eval-'));
    const statePath = join(dir, 'state.json');
    const crashing = [new Swap('a', 'Linf', [0, 1]), new Swap('b', 'L2', [1, 2], 4)];
    expect(() => evaluate(engine, model, data, { attacks: crashing, batch: 2, statePath })).toThrow(/simulated crash/);
    // Same names, other settings (another swap list): the key differs.
    expect(() => evaluate(engine, model, data, { attacks: [new Swap('a', 'Linf', [0]), new Swap('b', 'L2', [1, 2])], batch: 2, statePath })).toThrow(/belongs to another evaluation/);
  });

  it('cascade: an attack runs only on the points earlier attacks of its threat model left standing; flags are cumulative', () => {
    const seen: number[][] = [];
    class Spy extends Swap {
      override runOnce(b: AttackBatch, track: WorstCase, r: number, rows: Int32Array): void {
        seen.push(Array.from(b.ids));
        super.runOnce(b, track, r, rows);
      }
    }
    const r = evaluate(engine, model, data, { attacks: [new Swap('a', 'Linf', [0, 1]), new Swap('b', 'L2', [1, 2]), new Spy('c', 'Linf', [2, 4])], batch: 6, cascade: true });
    // c (Linf) never sees 0 and 1 (broken by a) nor 3 (misclassified clean); it does see 2 (a left it).
    expect(seen).toEqual([[2, 4, 5]]);
    expect(r.per_example.attacks.c).toEqual([0, 0, 0, 0, 0, 1]);
    expect(r.attacks.map((a) => a.broke)).toEqual([2, 2, 2]);
    expect(r.attacks.map((a) => a.attacked)).toEqual([5, 5, 3]);
    // The same threat-model and union figures as without the cascade.
    const flat = evaluate(engine, model, data, { attacks: [new Swap('a', 'Linf', [0, 1]), new Swap('b', 'L2', [1, 2]), new Swap('c', 'Linf', [2, 4])], batch: 6 });
    expect(r.threat_models).toEqual(flat.threat_models);
    expect(r.union_accuracy).toBe(flat.union_accuracy);
    // The union equals the per-example AND of every attack's flags.
    const and = r.per_example.clean.map((c, i) => c & r.per_example.attacks.a[i] & r.per_example.attacks.b[i] & r.per_example.attacks.c[i]);
    expect(and.reduce((x, y) => x + y, 0) / 6).toBe(r.union_accuracy);
  });

  it('every accuracy carries its 95 % Wilson interval', () => {
    const r = evaluate(engine, model, data, { attacks: attacks(), batch: 4 });
    // 5 of 6 clean: Wilson [0.4365, 0.9699] (z = 1.96).
    expect(r.clean_interval[0]).toBeCloseTo(0.4365, 3);
    expect(r.clean_interval[1]).toBeCloseTo(0.9699, 3);
    expect(r.union_interval[0]).toBeLessThan(r.union_accuracy);
    expect(r.union_interval[1]).toBeGreaterThan(r.union_accuracy);
    expect(formatReport(r)).toMatch(/union \(all attacks\): 16\.7 % \[3\.0, 56\.4\]/);
  });

  it('refuses images outside [0, 1], repeated attack names and a bad n', () => {
    const bad = { ...data, images: data.images.map((v, i) => (i === 5 ? 1.5 : v)) };
    expect(() => evaluate(engine, model, bad, { attacks: attacks() })).toThrow(/images must lie in \[0, 1\], got 1\.5 at index 5 \(example 1\)/);
    expect(() => evaluate(engine, model, data, { attacks: [new Swap('a', 'L1', []), new Swap('a', 'L1', [])] })).toThrow(/attack names repeat/);
    expect(() => evaluate(engine, model, data, { attacks: attacks(), n: 7 })).toThrow(/n must be an integer in \[1, 6\]/);
    expect(() => evaluate(engine, model, data, { attacks: ['linf:-1'] })).toThrow(/linf:-1/);
  });
});
