// experiment:invariance (src/experiments/invariance.ts) and the experiments' model cache
// (src/experiments/models.ts) at tiny sizes: the nearest other-class search against a brute-force
// sort, the projections onto ball ∩ box (L∞: exactly the clip; a target inside the ball is
// reached), a whole run (every point in its ball and box and no farther from its target than x,
// fractions summing to 1, the PNG's size), train-once-then-load caching, and the command line.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, parseBalls } from '../../src/cli/experiments/invariance.ts';
import { DEFAULTS, gridPng, invarianceTable, MODELS, modelsTable, nearestOtherClass, projectTowards, runInvariance, type InvarianceOptions, type InvarianceResult } from '../../src/experiments/invariance.ts';
import { cachePath, obtainModel, type Recipe } from '../../src/experiments/models.ts';
import { saveModel } from '../../src/nn/checkpoint.ts';
import { imageGridLayout } from '../../src/report/png.ts';
import { loadMnist, type ImageDataset } from '../../src/train/data.ts';
import { trainStandard } from '../../src/train/standard.ts';
import { loadEngine, type Engine } from '../../src/index.ts';

const D = 784;
const slice = (ds: ImageDataset, n: number): ImageDataset => ({ ...ds, n, images: ds.images.subarray(0, n * D), labels: ds.labels.subarray(0, n) });

let engine: Engine;
let data: { train: ImageDataset; test: ImageDataset };
let dir: string, ckpt: string;
let result: InvarianceResult;
const SMALL: InvarianceOptions = { ...DEFAULTS, n: 12, pool: 1500, candidates: 4, evalN: 30, evalSteps: 2, gridK: 4 };

beforeAll(async () => {
  engine = await loadEngine({ threads: 2 });
  data = { train: slice(loadMnist('train'), 3000), test: slice(loadMnist('test'), 300) };
  dir = mkdtempSync(join(tmpdir(), 'invariance-'));
  ckpt = join(dir, 'quick.safetensors');
  const { model } = trainStandard(engine, { epochs: 1, batch: 50, seed: 0, lr: 1e-3, limit: 2000, log: () => {} }, data);
  saveModel(ckpt, model);
  model.dispose();
  // One quick checkpoint stands in for all three models (the cache is tested below).
  result = runInvariance(engine, { ...SMALL, standard: ckpt, linf: ckpt, multi: ckpt, cacheDir: join(dir, 'cache') }, () => {}, data);
});

afterAll(async () => {
  await engine?.close();
});

function norm(a: Float32Array, b: Float32Array, p: string): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) {
    const d = Math.abs(a[j] - b[j]);
    s = p === 'l1' ? s + d : p === 'l2' ? s + d * d : Math.max(s, d);
  }
  return p === 'l2' ? Math.sqrt(s) : s;
}

describe('experiment:invariance', () => {
  it('nearestOtherClass: the k nearest images of another class, as a full sort finds them', () => {
    const pool = slice(data.train, 500), x = data.test.images.slice(0, D), y = data.test.labels[0];
    const all = Array.from({ length: pool.n }, (_, i) => i).filter((i) => pool.labels[i] !== y)
      .map((i) => ({ i, d: norm(pool.images.subarray(i * D, (i + 1) * D), x, 'l2') })).sort((a, b) => a.d - b.d || a.i - b.i);
    expect(Array.from(nearestOtherClass(x, y, pool, 7))).toEqual(all.slice(0, 7).map((e) => e.i));
  });

  it('projectTowards: L∞ is the clip to [x − ε, x + ε] ∩ [0, 1]; a target inside the ball is reached; L1 ∩ box stays in its ball and box', () => {
    const x = data.test.images.slice(0, D), t = data.train.images.slice(0, 2 * D);
    const z = projectTowards(engine, x, t, { norm: 'linf', eps: 0.3 });
    for (let j = 0; j < 2 * D; j++) expect(z[j]).toBeCloseTo(Math.min(1, Math.max(0, Math.min(x[j % D] + 0.3, Math.max(x[j % D] - 0.3, t[j])))), 6);
    const near = x.map((v, j) => (j % 7 === 0 ? Math.min(1, v + 0.01) : v));
    expect(norm(projectTowards(engine, x, near, { norm: 'l1', eps: 30 }), near, 'linf')).toBeLessThan(1e-5);
    const z1 = projectTowards(engine, x, t, { norm: 'l1', eps: 30 });
    for (let r = 0; r < 2; r++) expect(norm(z1.subarray(r * D, (r + 1) * D), x, 'l1')).toBeLessThanOrEqual(30 * (1 + 1e-5));
    for (const v of z1) expect(v >= 0 && v <= 1).toBe(true);
  });

  it('a run: n images all models classify correctly, each point in its ball and box and no farther from its target than x; fractions sum to 1', () => {
    expect(result.examples).toHaveLength(12);
    for (const e of result.examples) {
      const x = data.test.images.subarray(e.index * D, (e.index + 1) * D);
      expect(e.y).toBe(data.test.labels[e.index]);
      SMALL.balls.forEach((ball, b) => {
        const p = e.balls[b];
        expect(p.yTarget).not.toBe(e.y);
        expect(p.yTarget).toBe(data.train.labels[p.target]);
        expect(norm(p.z, x, ball.norm)).toBeLessThanOrEqual(ball.eps * (1 + 1e-5) + 1e-5);
        for (const v of p.z) expect(v >= 0 && v <= 1).toBe(true);
        expect(p.residual).toBeLessThanOrEqual(p.start + 1e-5);
        expect(p.residual).toBeCloseTo(norm(p.z, data.train.images.subarray(p.target * D, (p.target + 1) * D), 'l2'), 4);
      });
    }
    for (const s of result.summary) {
      for (const m of MODELS) {
        const row = s.rows[m.key];
        expect(row.keeps + row.follows + row.other).toBeCloseTo(1, 12);
      }
      // The same weights for all three: the same predictions, so where the standard model follows y′ the others never keep y.
      const { keepsWhereStdFollows: _, ...rest } = s.rows.linf;
      expect({ ...rest, keepsWhereStdFollows: null }).toEqual(s.rows.standard);
      expect(s.stdFollows).toBe(result.examples.filter((e) => e.balls[result.summary.indexOf(s)].pred.standard === e.balls[result.summary.indexOf(s)].yTarget).length);
      expect(s.rows.multi.keepsWhereStdFollows).toBe(s.stdFollows ? 0 : null);
    }
    expect(invarianceTable(result).split('\n')).toHaveLength(2 + 3 * SMALL.balls.length);
    expect(modelsTable(result)).toContain('| standard |');
  });

  it('the PNG: 1 + 2 rows per ball, gridK columns, the layout\'s size', () => {
    const png = decode(result.grid);
    const ex = result.examples.slice(0, 4);
    const labels = ['original', 'linf:0.3 in-ball', 'linf:0.3 target', 'l1:30 in-ball', 'l1:30 target'];
    const captions = [ex.map((e) => `y=${e.y}`), ...[0, 1].flatMap((b) => [ex.map((e) => `S${e.balls[b].pred.standard} A${e.balls[b].pred.linf} M${e.balls[b].pred.multi}`), ex.map((e) => `y'=${e.balls[b].yTarget}`)])];
    const layout = imageGridLayout({ height: 28, width: 28, channels: 1, scale: 2, rows: labels.map((label) => ({ label, images: ex.map(() => new Float32Array(D)) })), captions });
    expect([png.width, png.height, png.channels]).toEqual([layout.width, layout.height, 3]);
    const again = gridPng(data.test, result.examples.slice(0, 4), SMALL.balls, data.train);
    expect(again).toEqual(result.grid);
  });

  it('models: trained once into the cache, then loaded (same weights); a file with other metadata is retrained', () => {
    const recipe: Recipe = { name: 'tiny', strategy: 'none', attacks: [], attackSteps: 0, startSmall: false, epochs: 1, trainN: 200, note: 'test' };
    const cacheDir = join(dir, 'cache');
    const opts = { cacheDir, seed: 0, train: data.train, log: () => {} };
    const a = obtainModel(engine, recipe, opts);
    expect(a.source).toBe('trained');
    expect(a.path).toBe(cachePath(cacheDir, recipe, 0, engine.threads));
    const b = obtainModel(engine, recipe, opts);
    expect(b.source).toBe('cached');
    // Bit-identical weights (compared as bytes: toEqual on 3.3M floats takes seconds).
    const bytes = (m: typeof a.model) => Buffer.concat(m.parameters().map((p) => { const v = p.toArray(); return Buffer.from(v.buffer, v.byteOffset, v.byteLength); }));
    expect(bytes(b.model).equals(bytes(a.model))).toBe(true);
    saveModel(a.path, a.model, { model: 'mnist_cnn', recipe: 'something else' });
    expect(obtainModel(engine, recipe, opts).source).toBe('trained');
    expect(obtainModel(engine, recipe, { ...opts, given: ckpt }).source).toBe('given');
  });

  it('command line: --help, bad flags, and a run writing the PNG and the JSON', async () => {
    expect(await main(['--help'])).toBe(0);
    await expect(main(['--balls', 'linf:0.3,l7:3'])).rejects.toThrow(/--balls: 'l7:3' must be NORM:EPS/);
    await expect(main(['--balls', 'linf:-1'])).rejects.toThrow(/--balls must be > 0/);
    await expect(main(['--n', '0'])).rejects.toThrow(/--n must be ≥ 1/);
    await expect(main(['--multi', join(dir, 'missing.safetensors')])).rejects.toThrow(/--multi: checkpoint .* does not exist/);
    await expect(main(['--bogus'])).rejects.toThrow(/Unknown option '--bogus'/);
    // A checkpoint that does not load fails before any model is trained.
    const garbage = join(dir, 'garbage.safetensors');
    writeFileSync(garbage, 'not a checkpoint');
    await expect(main(['--multi', garbage, '--cache', join(dir, 'untouched')], SMALL, data)).rejects.toThrow(new RegExp(`^checkpoint ${garbage}: `));
    expect(existsSync(join(dir, 'untouched'))).toBe(false);
    const png = join(dir, 'sub', 'grid.png'), json = join(dir, 'inv.json');
    expect(await main(['--n', '5', '--pool', '800', '--candidates', '3', '--eval-n', '20', '--eval-steps', '1', '--grid-k', '3', '--png', png, '--json', json, '--standard', ckpt, '--linf', ckpt, '--multi', ckpt], SMALL, data)).toBe(0);
    expect(existsSync(png)).toBe(true);
    const out = JSON.parse(readFileSync(json, 'utf8'));
    expect(out.n).toBe(5);
    expect(out.summary.map((s: { ball: string }) => s.ball)).toEqual(['linf:0.3', 'l1:30']);
    writeFileSync(join(dir, 'done'), '');
  });

  it('the script exits with code 2 and one line on stderr for a bad flag', async () => {
    const err = await promisify(execFile)('npx', ['vite-node', 'src/cli/bin.ts', 'experiment', 'invariance', '--balls', 'l2'], { cwd: join(import.meta.dirname, '../..') }).then(() => null, (e) => e);
    expect(err?.code).toBe(2);
    expect(err.stderr.trim().split('\n')).toEqual(["multirobust experiment invariance: --balls: 'l2' must be NORM:EPS with NORM one of linf, l2, l1 (e.g. linf:0.3)"]);
  }, 60_000);
});
