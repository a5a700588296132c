// Issue 30's defect "help differs from behaviour": `attack --data` omitted `.safetensors`, which it
// reads; `boundary:2:steps=0` had to mean what the help says; the tables showed no query count for
// decision- and score-based attacks (their grad_evals is 0); `--schedule triangular` spent its first
// step at lr 0. Each test checks the help (or the table) against what the code does.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAttack, kindsHelp } from '../../src/attacks/parse.ts';
import { main } from '../../src/cli/main.ts';
import { captureOutput } from '../_helpers/console.ts';
import { reportHtml } from '../../src/eval/html.ts';
import { formatReport, type EvalReport } from '../../src/eval/report.ts';
import { writeSafetensors } from '../../src/io/safetensors.ts';
import { saveModel } from '../../src/nn/checkpoint.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import { resultTable } from '../../src/train/run.ts';
import { makeSchedule } from '../../src/train/train.ts';
import { loadEngine } from '../../src/wasm/load.ts';

const run = (args: string[]) => captureOutput(main, args);

/** A report with one attack of each cost kind: first-order (gradients), score-based and decision-based (queries). */
function report(): EvalReport {
  const attack = (name: string, threat: string, settings: Record<string, string | number>, grad_evals: number, forwards: number) => ({
    name, threat, eps: 2, settings, robust_accuracy: 0.5, interval: [0.2, 0.8], attacked: 8, broke: 2, time_s: 1, grad_evals, forwards,
    norms: { l1: { mean: 0, max: 0 }, l2: { mean: 0, max: 0 }, linf: { mean: 0, max: 0 } },
  });
  return {
    n: 10, clean_accuracy: 0.8, clean_interval: [0.5, 0.95], union_accuracy: 0.3, union_interval: [0.1, 0.6],
    attacks: [
      attack('apgd-l2:2:steps=50', 'L2', { steps: 50, restarts: 1 }, 400, 8),
      attack('square-l2:2:queries=1000', 'L2', { queries: 1000, p_init: 0.8, restarts: 1 }, 0, 5321),
      attack('boundary:2', 'L2', { budget: 'default', iterations: 400, candidates: 1, seed: 1 }, 0, 5224),
      attack('pointwise:10', 'L1', { budget: 'default', max_queries: 1500, restarts: 3, seed: 1 }, 0, 5384),
    ],
    threat_models: { L2: 0.3, L1: 0.5 }, threat_intervals: { L2: [0.1, 0.6], L1: [0.2, 0.8] }, checks: [], warnings: [], curves: {},
    meta: { seed: 0, threads: 1, build: 'release', tokenSteps: 20 }, suite: 'reference', cascade: true, checkpoint: 'm.safetensors',
  } as unknown as EvalReport;
}

describe('help differs from behaviour (issue 30)', () => {
  it('attack --data: the help names FILE.safetensors, which attack reads', async () => {
    const help = await run(['attack', '--help']);
    expect(help.out.join('\n')).toMatch(/--data +VALUE .*FILE\.safetensors/);
    const dir = mkdtempSync(join(tmpdir(), 'help-data-'));
    const engine = await loadEngine({ threads: 1 });
    saveModel(join(dir, 'm.safetensors'), mnistCnn(engine, 0));
    await engine.close();
    writeSafetensors(join(dir, 'd.safetensors'), { images: { dtype: 'F32', shape: [2, 28, 28, 1], data: new Float32Array(2 * 784).fill(0.5) }, labels: { dtype: 'I32', shape: [2], data: Int32Array.of(1, 2) } });
    const r = await run(['attack', '--checkpoint', join(dir, 'm.safetensors'), '--data', join(dir, 'd.safetensors'), '--attack', 'linf:0.1:steps=1', '--n', '2', '--threads', '1']);
    expect(r.code, r.err.join('\n')).toBe(0);
    expect(r.out[0]).toMatch(/on 2 examples/);
  });

  it('boundary:2:steps=0 means what the help says: no iterations (the starting point after its line search), not the default 400', () => {
    expect(kindsHelp()).toMatch(/boundary:EPS[\s\S]*steps=int +iterations; 0: the starting point only/);
    expect(parseAttack('boundary:2:steps=0').settings()).toMatchObject({ iterations: 0 });
    expect(parseAttack('boundary:2').settings()).toMatchObject({ iterations: 400 });
  });

  it('the tables show the queries of decision- and score-based attacks, not grad evals 0', () => {
    const r = report();
    const text = formatReport(r);
    expect(text).toMatch(/^apgd-l2:2:steps=50 .* 400 grad evals +steps 50/m);
    expect(text).toMatch(/^square-l2:2:queries=1000 .* 5321 queries +queries 1000/m);
    expect(text).toMatch(/^boundary:2 .* 5224 queries +budget default/m);
    expect(text).toMatch(/^pointwise:10 .* 5384 queries +budget default/m);
    expect(text).not.toMatch(/\s0 grad evals/);
    const html = reportHtml(r);
    expect(html).toContain('<td>5224 queries</td>');
    expect(html).toContain('<td>400 grad evals</td>');
    // train's result table: each attack's budget in a few words (it said "0 runs" for boundary, "3 runs" for pointwise).
    const table = resultTable(r, null, 1, 1);
    expect(table).toContain('boundary:2 (400 iterations × 1 candidate)');
    expect(table).toContain('pointwise:10 (3 runs, ≤ 1500 queries)');
    expect(table).toContain('square-l2:2:queries=1000 (1000 queries)');
  });

  it('--schedule triangular (0 → lr → 0) spends no step at lr 0: the first and the last step take lr·1/T', () => {
    const T = 100, lr = 0.2;
    const s = makeSchedule({ lr, schedule: 'triangular' }, T);
    expect(s(0)).toBeCloseTo(lr / T, 12);
    expect(s(T - 1)).toBeCloseTo(lr / T, 12);
    expect(Math.max(...Array.from({ length: T }, (_, i) => s(i)))).toBeCloseTo(lr * (1 - 1 / T), 12);
    for (let i = 0; i < T; i++) expect(s(i), `step ${i}`).toBeGreaterThan(0);
  });
});
