import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/train/data.ts';
import { trainStandard, main } from '../../src/train/standard.ts';
import { engineFor } from '../_helpers/engine.ts';

describe('standard training (small CNN, MNIST subset)', async () => {
  const engine = await engineFor('simd');
  const train = loadMnist('train'), full = loadMnist('test');
  const test = { ...full, n: 1000, images: full.images.subarray(0, 1000 * 784), labels: full.labels.subarray(0, 1000) };
  const run = (seed: number) => {
    const lines: string[] = [];
    const r = trainStandard(engine, { epochs: 1, batch: 32, seed, lr: 2e-3, limit: 32 * 200, widths: { c1: 4, c2: 8, hidden: 32 }, log: (l) => lines.push(l) }, { train, test });
    const weights = r.model.parameters().map((p) => p.toArray());
    r.model.dispose();
    return { ...r, weights, lines };
  };

  it('200 steps reduce the loss and learn; the same seed gives identical results', () => {
    const a = run(1);
    expect(a.epochs[0].loss).toBeLessThan(1.0); // from ln 10 = 2.30
    expect(a.epochs[0].testAcc).toBeGreaterThan(0.8);
    expect(a.lines[0]).toMatch(/epoch 1\/1 {2}loss \d\.\d{4} {2}train acc .* test acc .* images\/s/);
    const b = run(1);
    expect(b.epochs[0].loss).toBe(a.epochs[0].loss);
    b.weights.forEach((w, i) => expect(w).toEqual(a.weights[i]));
    const c = run(2);
    expect(c.epochs[0].loss).not.toBe(a.epochs[0].loss);
  });

  it('an interrupted run resumed from its training state ends bit-identical to an uninterrupted one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'resume-'));
    const base = { epochs: 2, batch: 50, seed: 4, lr: 2e-3, limit: 50 * 40, widths: { c1: 2, c2: 4, hidden: 16 }, log: () => {} };
    const data = { train, test };
    const whole = trainStandard(engine, base, data);
    trainStandard(engine, { ...base, state: join(dir, 's.safetensors'), stopAfterEpoch: 1 }, data).model.dispose();
    const resumed = trainStandard(engine, { ...base, state: join(dir, 's.safetensors'), resume: true }, data);
    expect(resumed.epochs.map((e) => e.epoch)).toEqual([2]);
    expect(resumed.epochs[0].loss).toBe(whole.epochs[1].loss);
    whole.model.parameters().forEach((p, i) => expect(resumed.model.parameters()[i].toArray()).toEqual(p.toArray()));
    whole.model.dispose();
    resumed.model.dispose();
  });

  it('CLI: --help lists the flags; bad flags are clear errors', async () => {
    const log = console.log;
    const out: string[] = [];
    console.log = (s: string) => out.push(s);
    try {
      expect(await main(['--help'])).toBe(0);
    } finally {
      console.log = log;
    }
    for (const flag of ['--epochs', '--batch', '--seed', '--threads', '--out', '--state', '--resume', '--target-acc']) expect(out.join('\n')).toContain(flag);
    await expect(main(['--epochs', '0'])).rejects.toThrow(/--epochs must be an integer ≥ 1, got '0'/);
    await expect(main(['--bogus'])).rejects.toThrow(/bogus/);
  });
});
