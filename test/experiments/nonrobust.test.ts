// experiment:nonrobust (src/experiments/nonrobust.ts) at tiny sizes: the relabelling rules, the
// targeted perturbation of a training slice (in its ball and box, most images reach t, seeded),
// a whole run with every variant, the table and the JSON, and the command line (--help, bad flags
// as a UsageError, and exit code 2 with one line on stderr from the real script).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/experiments/nonrobust.ts';
import { DEFAULTS, perturbTowards, relabel, resultTable, runNonrobust, type NonrobustOptions } from '../../src/experiments/nonrobust.ts';
import { loadCnn } from '../../src/experiments/models.ts';
import { saveModel } from '../../src/nn/checkpoint.ts';
import { loadMnist, type ImageDataset } from '../../src/train/data.ts';
import { trainStandard } from '../../src/train/standard.ts';
import { loadEngine, type Engine } from '../../src/index.ts';

const D = 784;
const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
const slice = (ds: ImageDataset, n: number): ImageDataset => ({ ...ds, n, images: ds.images.subarray(0, n * D), labels: ds.labels.subarray(0, n) });

let engine: Engine;
let data: { train: ImageDataset; test: ImageDataset };
let dir: string, standard: string;

beforeAll(async () => {
  engine = await loadEngine({ threads: 2 });
  data = { train: slice(loadMnist('train'), 3000), test: slice(loadMnist('test'), 500) };
  // A quick standard model (2,000 images, the paper's CNN) stands in for the cached one.
  dir = mkdtempSync(join(tmpdir(), 'nonrobust-'));
  standard = join(dir, 'standard.safetensors');
  const { model } = trainStandard(engine, { epochs: 1, batch: 50, seed: 0, lr: 1e-3, limit: 2000, log: () => {} }, data);
  saveModel(standard, model);
  model.dispose();
});

afterAll(async () => {
  await engine?.close();
});

const SMALL: NonrobustOptions = { ...DEFAULTS, attacks: ['l2:3', 'linf:0.3'], targets: ['next', 'random'], steps: 5, trainN: 200, epochs: 1, testN: 500 };

describe('experiment:nonrobust', () => {
  it('relabels: next = (y + 1) mod 10; random never y, roughly uniform, seeded', () => {
    const y = Int32Array.from({ length: 9000 }, (_, i) => i % 10);
    expect(Array.from(relabel(y.subarray(0, 10), 'next', 0))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 0]);
    const r = relabel(y, 'random', 0);
    const counts = new Array(10).fill(0);
    r.forEach((t, i) => {
      expect(t).not.toBe(y[i]);
      counts[t]++;
    });
    for (const c of counts) expect(Math.abs(c - 900)).toBeLessThan(150);
    expect(relabel(y, 'random', 0)).toEqual(r);
    expect(relabel(y, 'random', 1)).not.toEqual(r);
  });

  it('perturbs each image inside its ball and box towards t; most reach t; same seed ⇒ same images', () => {
    const model = loadCnn(engine, standard);
    const ds = slice(data.train, 100);
    const t = relabel(ds.labels, 'next', 0);
    const a = perturbTowards(engine, model, ds, t, 'linf:0.3:loss=ce', { steps: 10, seed: 0, batch: 100 });
    let outside = 0, maxMove = 0;
    for (let i = 0; i < a.images.length; i++) {
      if (!(a.images[i] >= 0 && a.images[i] <= 1)) outside++;
      maxMove = Math.max(maxMove, Math.abs(a.images[i] - ds.images[i]));
    }
    expect(outside).toBe(0);
    expect(maxMove).toBeLessThanOrEqual(0.3 + 1e-6);
    expect(a.success).toBeGreaterThan(0.6);
    expect(bytes(perturbTowards(engine, model, ds, t, 'linf:0.3:loss=ce', { steps: 10, seed: 0, batch: 100 }).images).equals(bytes(a.images))).toBe(true);
    // A batch split elsewhere gives the same images (random starts keyed by the image index).
    expect(bytes(perturbTowards(engine, model, ds, t, 'linf:0.3:loss=ce', { steps: 10, seed: 0, batch: 64 }).images).equals(bytes(a.images))).toBe(true);
    model.dispose();
  });

  it('runs every variant and prints one row each, with ε, steps and chance', () => {
    const r = runNonrobust(engine, { ...SMALL, standard }, () => {}, data);
    expect(r.variants.map((v) => `${v.attack}/${v.targets}`)).toEqual(['l2:3/next', 'l2:3/random', 'linf:0.3/next', 'linf:0.3/random']);
    expect(r.standard.testAcc).toBeGreaterThan(0.8);
    for (const v of r.variants) {
      expect(v.steps).toBe(5);
      expect(v.success).toBeGreaterThan(0.3);
      expect(v.testAcc).toBeGreaterThanOrEqual(0);
      expect(v.testAcc).toBeLessThanOrEqual(1);
      expect(v.followsRule === null).toBe(v.targets === 'random');
    }
    const table = resultTable(r);
    expect(table.split('\n')).toHaveLength(2 + 4);
    expect(table).toContain('| l2:3 | L2 | 3 | 5 | (y + 1) mod 10 |');
    expect(table).toContain('| 10 % |');
  });

  it('command line: --help, bad flags, and a run writing the JSON', async () => {
    expect(await main(['--help'])).toBe(0);
    await expect(main(['--steps', 'many'])).rejects.toThrow(/--steps must be an integer/);
    await expect(main(['--targets', 'next,sideways'])).rejects.toThrow(/--targets: 'sideways' is not one of next, random/);
    await expect(main(['--attacks', 'rt:3:30'])).rejects.toThrow(/'rt:3:30' is not a targeted attack/);
    await expect(main(['--attacks', 'linf:-1'])).rejects.toThrow(/--attacks: .*number ≥ 0/);
    await expect(main(['--standard', join(dir, 'missing.safetensors')])).rejects.toThrow(/does not exist/);
    await expect(main(['--bogus'])).rejects.toThrow(/Unknown option '--bogus'/);
    const garbage = join(dir, 'garbage.safetensors');
    writeFileSync(garbage, 'not a checkpoint');
    await expect(main(['--standard', garbage, '--train-n', '10', '--test-n', '10'], SMALL, data)).rejects.toThrow(new RegExp(`^checkpoint ${garbage}: `));
    const json = join(dir, 'nonrobust.json');
    expect(await main(['--attacks', 'linf:0.3', '--targets', 'next', '--steps', '3', '--train-n', '200', '--test-n', '300', '--standard', standard, '--json', json, '--threads', '2'], { ...SMALL, cacheDir: join(dir, 'cache') }, data)).toBe(0);
    const out = JSON.parse(readFileSync(json, 'utf8'));
    expect(Object.keys(out)).toEqual(['options', 'standard', 'train_n', 'test_n', 'seconds', 'variants']);
    expect(out.variants).toHaveLength(1);
    expect(out.variants[0].eps).toBe(0.3);
    // A given checkpoint is used as is: nothing is trained or cached.
    expect(existsSync(join(dir, 'cache'))).toBe(false);
  });

  it('the script exits with code 2 and one line on stderr for a bad flag', async () => {
    const err = await promisify(execFile)('npx', ['vite-node', 'src/cli/bin.ts', 'experiment', 'nonrobust', '--epochs', '0'], { cwd: join(import.meta.dirname, '../..') }).then(() => null, (e) => e);
    expect(err?.code).toBe(2);
    expect(err.stderr.trim().split('\n')).toEqual(["multirobust experiment nonrobust: --epochs must be ≥ 1, got '0'"]);
  }, 60_000);
});
