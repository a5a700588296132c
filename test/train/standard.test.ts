import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { captureErrors } from '../_helpers/console.ts';
import { loadMnist } from '../../src/train/data.ts';
import { DEFAULT_OUT, trainStandard, main } from '../../src/train/standard.ts';
import { engineFor } from '../_helpers/engine.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs main(argv) with stderr captured. */
const mainErr = (argv: string[]) => captureErrors(() => main(argv));

/** train:standard as `npm run train:standard` runs it (vite-node), in `cwd`. */
function runScript(args: string[], cwd = ROOT) {
  return spawnSync(`${ROOT}node_modules/.bin/vite-node`, [`${ROOT}src/train/standard.ts`, ...args], {
    cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, MULTIROBUST_THREADS: '1' },
  });
}

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
    expect(await mainErr(['--epochs', '0'])).toEqual({ code: 2, errs: ["train:standard: --epochs must be ≥ 1, got '0'"] });
    const bogus = await mainErr(['--bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.errs).toHaveLength(1);
    expect(bogus.errs[0]).toMatch(/bogus/);
  });

  // Number('99%') is NaN, and `acc < NaN` is false: the gate used to pass any model.
  it.each([
    [['--target-acc', '99%'], "--target-acc must be a number, got '99%'"],
    [['--target-acc', '101'], "--target-acc must be ≤ 100, got '101'"],
    [['--lr', '1e-3x'], "--lr must be a number, got '1e-3x'"],
    [['--lr', '0'], "--lr must be > 0, got '0'"],
    [['--batch', '1.5'], "--batch must be an integer, got '1.5'"],
    [['--log-every', ''], "--log-every must be an integer, got ''"],
    [['--threads', 'two'], "--threads must be an integer, got 'two'"],
  ])('%j is exit code 2 with one line, before any training', async (args, message) => {
    const out = join(mkdtempSync(join(tmpdir(), 'flags-')), 'm.safetensors');
    vi.stubEnv('MULTIROBUST_THREADS', '1');
    const r = await mainErr([...args, '--epochs', '1', '--limit', '1', '--out', out]);
    vi.unstubAllEnvs();
    expect(r).toEqual({ code: 2, errs: [`train:standard: ${message}`] });
    expect(existsSync(out), 'nothing was trained').toBe(false);
  });

  it('as a vite-node script (npm run train:standard), a bad flag exits 2 with one line on stderr', () => {
    const r = runScript(['--target-acc', '99%']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe("train:standard: --target-acc must be a number, got '99%'");
  });

  it('writes the model under runs/ by default, which git ignores', () => {
    expect(DEFAULT_OUT).toBe('runs/model.safetensors');
    const cwd = mkdtempSync(join(tmpdir(), 'train-cwd-'));
    const r = runScript(['--epochs', '1', '--limit', '20', '--batch', '10', '--log-every', '0'], cwd);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(cwd, 'runs', 'model.safetensors'))).toBe(true);
    expect(existsSync(join(cwd, 'model.safetensors'))).toBe(false);
    expect(spawnSync('git', ['check-ignore', '-q', 'runs/model.safetensors'], { cwd: ROOT }).status, 'runs/ is in .gitignore').toBe(0);
  });
});
