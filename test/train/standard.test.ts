import { spawnSync } from 'node:child_process';
import { spawnAsync } from '../_helpers/spawn.ts';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/train/data.ts';
import { trainStandard } from '../../src/train/standard.ts';
import { engineFor } from '../_helpers/engine.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

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

  // train:standard used to be a second training command with its own flags; it is now
  // `multirobust train --strategy none` with its defaults (the one training command).
  const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>)['train:standard'];
  const aliasArgs = script.split(' ').slice(2);
  /** `npm run train:standard -- ARGS` as installed: dist/cli/bin.js with the script's arguments, in `cwd`. */
  const alias = (args: string[], cwd: string) => spawnAsync(process.execPath, [join(ROOT, 'dist', 'cli', 'bin.js'), ...aliasArgs, ...args], {
    cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, MULTIROBUST_THREADS: '1' },
  });
  const TINY = ['--epochs', '1', '--train-n', '20', '--val-n', '10', '--batch', '10', '--test-n', '10', '--test-suite', 'none', '--test-attacks', 'linf:0.3', '--test-steps', '1', '--eval-steps', '1', '--curve-n', '0', '--log-every', '0'];

  it('train:standard is a thin alias of multirobust train --strategy none', () => {
    expect(script).toMatch(/^vite-node src\/cli\/bin\.ts train /);
    expect(aliasArgs).toEqual(['train', '--strategy', 'none', '--attacks=', '--epochs', '2', '--out', 'runs/standard', '--replace']);
  });

  it('a bad flag is exit code 2 with one line on stderr, before any training', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'train-flags-'));
    const r = await alias(['--lr', '0'], cwd);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe("multirobust train: --lr must be > 0, got '0'");
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('trains with strategy none into runs/standard by default, which git ignores; a second call starts over', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'train-cwd-'));
    for (let k = 0; k < 2; k++) {
      const r = await alias(TINY, cwd);
      expect(r.status, r.stderr).toBe(0);
    }
    expect(readdirSync(cwd)).toEqual(['runs']);
    const config = JSON.parse(readFileSync(join(cwd, 'runs', 'standard', 'config.json'), 'utf8'));
    expect({ strategy: config.strategy, attacks: config.attacks, epochs: config.epochs, batch: config.batch, lr: config.lr, seed: config.seed }).toEqual({ strategy: 'none', attacks: [], epochs: 1, batch: 10, lr: 1e-3, seed: 0 });
    expect(existsSync(join(cwd, 'runs', 'standard', 'last.safetensors'))).toBe(true);
    expect(spawnSync('git', ['check-ignore', '-q', 'runs/standard/last.safetensors'], { cwd: ROOT }).status, 'runs/ is in .gitignore').toBe(0);
  });

  it('npm run train:standard -- --help is multirobust train\'s help (vite-node, as npm runs it)', async () => {
    const r = await spawnAsync(join(ROOT, 'node_modules/.bin/vite-node'), [...script.split(' ').slice(1), '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: multirobust train /);
  });
});
