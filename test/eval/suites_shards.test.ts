// Issue 26's evaluation contract: option schemas (the CLI's --steps / --restarts reach only the
// kinds that declare them; each token's seed mixes in its position), suites, resume keyed on the
// resolved settings, and sharding: three shards run as separate processes and merged equal the
// unsharded report; merging parts of different evaluations is refused.
import { spawnAsync } from '../_helpers/spawn.ts';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAttack, parseAttacks } from '../../src/attacks/parse.ts';
import { evaluate, type EvalData } from '../../src/eval/evaluate.ts';
import { mergeShards, parseShard } from '../../src/eval/shard.ts';
import { suiteTokens } from '../../src/eval/suites.ts';
import { writeSafetensors } from '../../src/io/safetensors.ts';
import { saveModel } from '../../src/nn/checkpoint.ts';
import { loadMnist } from '../../src/train/data.ts';
import { loadEngine } from '../../src/wasm/load.ts';
import { trainStandard } from '../../src/train/standard.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'dist/cli/bin.js');

describe('option schemas', () => {
  it("the CLI's --steps does not reach Boundary: boundary:2 keeps its 400 iterations (regression: it ran 100)", () => {
    const [b, l, r] = parseAttacks('boundary:2,linf:0.3,rtpgd', { steps: 100, restarts: 1 });
    expect(b.settings().iterations).toBe(400);
    expect(l.settings().steps).toBe(100);
    // rtpgd declares both: the CLI's values reach it; unset, its own 10 × 20.
    expect(r.settings()).toMatchObject({ steps: 100, restarts: 1 });
    expect(parseAttack('rtpgd').settings()).toMatchObject({ steps: 20, restarts: 10 });
    expect(parseAttack('boundary:2:budget=reference').settings()).toMatchObject({ iterations: 5000, candidates: 25 });
  });

  it('--steps/--restarts reach neither Square nor Pointwise nor the grid; a token\'s own option wins', () => {
    const [sq, pw, grid, own] = parseAttacks('square-linf:0.3,pointwise:10,rt,linf:0.3:steps=7', { steps: 3, restarts: 4 });
    expect(sq.settings()).toMatchObject({ queries: 5000, restarts: 1 });
    expect(pw.settings()).toMatchObject({ max_queries: 1500 });
    expect(grid.settings()).toMatchObject({ transforms: 775 });
    expect(own.settings()).toMatchObject({ steps: 7, restarts: 4 });
  });

  it("each token's seed mixes in its position; a token's own seed= wins", () => {
    const [a, b] = parseAttacks('linf:0.3,linf:0.2', { seed: 5 });
    expect(a.settings().seed).not.toBe(b.settings().seed);
    expect(parseAttacks('linf:0.3:seed=9,l2:2:seed=9', { seed: 5 }).map((x) => x.settings().seed)).toEqual([9, 9]);
  });

  it('unknown options and kinds name the token and list what the kind takes', () => {
    expect(() => parseAttack('square-linf:0.3:steps=10')).toThrow(/square-linf:0.3:steps=10': unknown option 'steps' \(square-linf takes queries, pinit, restarts, seed\)/);
    expect(() => parseAttack('apgd-linf:0.3:loss=bogus')).toThrow(/loss must be/);
  });
});

describe('suites', () => {
  it("standard is AutoAttack's per threat model; reference the reference's; RT gets a first-order attack then the grid", () => {
    expect(suiteTokens('standard', ['linf:0.3', 'l1:10', 'rt'])).toEqual([
      'apgd-linf:0.3', 'apgdt-linf:0.3', 'square-linf:0.3', 'apgd-l1:10:restarts=5', 'apgdt-l1:10', 'square-l1:10', 'rtpgd', 'rt',
    ]);
    expect(suiteTokens('reference', ['l2:2'])).toEqual(['l2:2:steps=100:restarts=40:loss=margin:relstep=0.025:schedule=constant', 'boundary:2:budget=reference']);
    for (const s of ['standard', 'reference', 'quick']) expect(() => parseAttacks(suiteTokens(s))).not.toThrow();
    const apgdt = parseAttack(suiteTokens('standard', ['linf:0.3'])[1]).settings();
    expect(apgdt).toMatchObject({ targets: 9, steps: 100 });
    expect(parseAttack(suiteTokens('standard', ['l1:10'])[0]).settings()).toMatchObject({ restarts: 5 });
    expect(parseAttack(suiteTokens('standard', ['l2:2'])[2]).settings()).toMatchObject({ queries: 5000 });
    expect(() => suiteTokens('bogus')).toThrow(/suite must be one of standard, reference, quick/);
    expect(() => suiteTokens('standard', ['linf:0.3', 'linf:0.1'])).toThrow(/linf given twice/);
    expect(() => suiteTokens('standard', ['l3:1'])).toThrow(/expected linf:EPS/);
  });
});

describe('shards', () => {
  it('parseShard: K/N (1-based), auto/N from a Kubernetes Indexed Job or a Slurm array (0-based)', () => {
    expect(parseShard('2/3', {})).toEqual({ index: 1, count: 3 });
    expect(parseShard('auto/4', { JOB_COMPLETION_INDEX: '3' })).toEqual({ index: 3, count: 4 });
    expect(parseShard('auto/4', { SLURM_ARRAY_TASK_ID: '0' })).toEqual({ index: 0, count: 4 });
    expect(() => parseShard('auto/4', {})).toThrow(/neither JOB_COMPLETION_INDEX .* nor SLURM_ARRAY_TASK_ID/);
    expect(() => parseShard('auto/4', { SLURM_ARRAY_TASK_ID: '4' })).toThrow(/not an index in \[0, 4\)/);
    expect(() => parseShard('4/3', {})).toThrow(/K must be in \[1, 3\]/);
    expect(() => parseShard('1-3', {})).toThrow(/must be K\/N/);
  });
});

describe('evaluation with real attacks (the CLI model, briefly trained)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'suites-'));
  const ckpt = join(dir, 'small.safetensors');
  const engine = await loadEngine({ threads: 1 });
  afterAll(() => engine.close());
  // The CLI's mnist-cnn at full width, trained briefly (~2,000 images) so that some points resist.
  const test = loadMnist('test');
  const { model } = trainStandard(engine, { epochs: 1, batch: 32, seed: 3, lr: 1e-3, limit: 32 * 60, log: () => {} }, { train: loadMnist('train'), test: { ...test, n: 200, images: test.images.subarray(0, 200 * 784), labels: test.labels.subarray(0, 200) } });
  for (const p of model.parameters()) p.requiresGrad = false;
  model.eval();
  const data: EvalData = { images: test.images, labels: test.labels, height: 28, width: 28, channels: 1 };
  // A cheap cascade over two threat models, with a gradient-free attack after the first-order ones.
  const ATTACKS = 'linf:0.1:steps=3,square-linf:0.1:queries=30,l2:1:steps=3,rt:3:30:grid=2x2x3';

  beforeAll(() => {
    saveModel(ckpt, model);
  });

  it('resume keys on the resolved settings: a state of a --steps 0 run is refused by a --steps 10 run (regression: it was resumed)', () => {
    const statePath = join(dir, 'state.json');
    evaluate(engine, model, data, { attacks: ['linf:0.3'], n: 20, batch: 10, tokenDefaults: { steps: 0 }, statePath });
    expect(existsSync(statePath)).toBe(true);
    expect(() => evaluate(engine, model, data, { attacks: ['linf:0.3'], n: 20, batch: 10, tokenDefaults: { steps: 10 }, statePath })).toThrow(/belongs to another evaluation/);
    // The same settings resume (nothing left to do) and give the same flags.
    const again = evaluate(engine, model, data, { attacks: ['linf:0.3'], n: 20, batch: 10, tokenDefaults: { steps: 0 }, statePath });
    expect(again.per_example).toEqual(evaluate(engine, model, data, { attacks: ['linf:0.3'], n: 20, batch: 10, tokenDefaults: { steps: 0 } }).per_example);
  });

  it('the cascade: an attack never sees a point an earlier attack of its threat model broke; union = AND of all flags', () => {
    const r = evaluate(engine, model, data, { attacks: ATTACKS.split(','), n: 40, batch: 20, cascade: true });
    const flags = r.per_example.attacks;
    const [a, sq] = ['linf:0.1:steps=3', 'square-linf:0.1:queries=30'];
    for (let i = 0; i < 40; i++) if (flags[a][i] === 0) expect(flags[sq][i]).toBe(0);
    expect(r.attacks[1].attacked).toBe(flags[a].reduce((x, y) => x + y, 0));
    const and = r.per_example.clean.map((c, i) => Object.values(flags).every((f) => f[i] === 1) && c === 1 ? 1 : 0);
    expect(and.reduce((x: number, y: number) => x + y, 0) / 40).toBe(r.union_accuracy);
    expect(r.checks.find((c) => c.name === 'gradient masking (Linf)')!.ran).not.toBe(false);
    expect(r.checks.find((c) => c.name === 'gradient masking (L2)')!.detail).toMatch(/^not run \(no score- or decision-based attack/);
  });

  it('three shards run as separate processes and merged equal the unsharded report; mixed parts are refused', async () => {
    expect(existsSync(bin), 'dist/ is built by npm install (prepare)').toBe(true);
    const common = ['eval', '--checkpoint', ckpt, '--attacks', ATTACKS, '--cascade', '--n', '50', '--batch', '10', '--threads', '1', '--quiet'];
    const cli = (args: string[], env: Record<string, string> = {}) => spawnAsync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
    const whole = await cli([...common, '--out', join(dir, 'whole.json')]);
    expect(whole.status, whole.stderr).toBe(0);
    const parts = [1, 2, 3].map((k) => join(dir, `part${k}.json`));
    // Shard 3 takes its index from a Kubernetes Indexed Job's variable.
    for (const k of [1, 2]) expect((await cli([...common, '--shard', `${k}/3`, '--out', parts[k - 1]])).status).toBe(0);
    expect((await cli([...common, '--shard', 'auto/3', '--out', parts[2]], { JOB_COMPLETION_INDEX: '2' })).status).toBe(0);
    const merged = await cli(['merge', parts[2], parts[0], parts[1], '--out', join(dir, 'merged.json')]);
    expect(merged.status, merged.stderr).toBe(0);
    const a = JSON.parse(readFileSync(join(dir, 'whole.json'), 'utf8')), b = JSON.parse(readFileSync(join(dir, 'merged.json'), 'utf8'));
    expect(b.per_example).toEqual(a.per_example);
    for (const key of ['n', 'clean_accuracy', 'clean_interval', 'threat_models', 'threat_intervals', 'union_accuracy', 'union_interval', 'checks', 'warnings', 'cascade']) expect(b[key], key).toEqual(a[key]);
    const strip = (x: { time_s: number }[]) => x.map(({ time_s: _t, ...rest }) => rest);
    expect(strip(b.attacks)).toEqual(strip(a.attacks));
    // Refused: a missing shard, a shard twice, a part of another evaluation (other settings).
    const other = join(dir, 'other.json');
    expect((await cli([...common.map((x) => (x === ATTACKS ? ATTACKS.replace('steps=3', 'steps=2') : x)), '--shard', '3/3', '--out', other])).status).toBe(0);
    for (const [files, message] of [[[parts[0], parts[1]], /missing shard 3\/3/], [[parts[0], parts[1], parts[1]], /given twice/], [[parts[0], parts[1], other], /comes from another evaluation/]] as const) {
      const out = join(dir, 'bad-merge.json');
      const r = await cli(['merge', ...files, '--out', out]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
    expect(() => mergeShards([{ n: 3 }])).toThrow(/not a partial report/);
  }, 240_000);

  it("--n all evaluates every example of the data; the table prints intervals, settings and what each attack broke", async () => {
    const small = join(dir, 'four.safetensors');
    writeSafetensors(small, { images: { dtype: 'F32', shape: [4, 28, 28, 1], data: test.images.slice(0, 4 * 784) }, labels: { dtype: 'I32', shape: [4], data: test.labels.slice(0, 4) } });
    const r = await spawnAsync(process.execPath, [bin, 'eval', '--checkpoint', ckpt, '--data', small, '--n', 'all', '--suite', 'quick', '--threats', 'linf:0.1', '--threads', '1', '--quiet', '--out', join(dir, 'four.json')], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(join(dir, 'four.json'), 'utf8'));
    expect(rep.n).toBe(4);
    expect(rep.suite).toBe('quick');
    expect(rep.attacks.map((a: { name: string }) => a.name)).toEqual(['apgd-linf:0.1:steps=50', 'apgdt-linf:0.1:steps=50:targets=3', 'square-linf:0.1:queries=1000']);
    expect(r.stdout).toMatch(/robust acc \[95 % CI\] +broke/);
    expect(r.stdout).toMatch(/apgdt-linf:0\.1:steps=50:targets=3 .* steps 50.*targets 3/);
    expect(r.stdout).toMatch(/union \(all attacks\): [\d.]+ % \[[\d.]+, [\d.]+\]/);
  }, 120_000);
});
