// The URL contract of `multirobust serve` (relied on outside the project): opening
// /?checkpoint=PATH&attacks=TOKENS&n=N&seed=S&threads=T&run=1 writes into <pre id="report"> the JSON
// that `multirobust eval --out` writes for the same arguments: the same keys and the same figures
// (everything but the date and the timings), for two checkpoints and three attack lists (one a suite).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveModel, torchStateDict } from '../../src/nn/checkpoint.ts';
import { exportMnistCnn } from '../../src/onnx/export.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import { loadMnist } from '../../src/train/data.ts';
import { trainStandard } from '../../src/train/standard.ts';
import { loadEngine } from '../../src/wasm/load.ts';
import { startBrowser, type BrowserSession } from './_browser.ts';

const ROOT = join(import.meta.dirname, '../..');
let session: BrowserSession;
const dir = mkdtempSync(join(tmpdir(), 'contract-'));
const checkpoints = { random: join(dir, 'random.safetensors'), trained: join(dir, 'trained.safetensors') };

beforeAll(async () => {
  const engine = await loadEngine({ threads: 2 });
  const random = mnistCnn(engine, 3);
  saveModel(checkpoints.random, random);
  random.dispose();
  const data = { train: loadMnist('train'), test: loadMnist('test') };
  const { model } = trainStandard(engine, { epochs: 1, batch: 50, seed: 0, lr: 1e-3, limit: 1500, log: () => {} }, data);
  saveModel(checkpoints.trained, model);
  writeFileSync(join(dir, 'trained.onnx'), exportMnistCnn(torchStateDict(model)));
  model.dispose();
  await engine.close();
  session = await startBrowser({ cwd: dir });
});

afterAll(async () => {
  await session?.close();
});

/** The figures of a report: everything but the date and the timings. */
function figures(r: Record<string, unknown>): unknown {
  const c = structuredClone(r) as { meta: Record<string, unknown>; attacks: Record<string, unknown>[] };
  delete c.meta.date;
  delete c.meta.seconds;
  for (const a of c.attacks) delete a.time_s;
  return c;
}

const CASES: { name: string; checkpoint: keyof typeof checkpoints; query: Record<string, string>; flags: string[] }[] = [
  { name: 'PGD L∞ and L2, L1-APGD', checkpoint: 'trained', query: { attacks: 'linf:0.3:steps=5,l2:2:steps=5,l1apgd:10:steps=5', n: '30', seed: '3', threads: '2' }, flags: ['--attacks', 'linf:0.3:steps=5,l2:2:steps=5,l1apgd:10:steps=5', '--n', '30', '--seed', '3', '--threads', '2'] },
  { name: 'APGD-T, Square, the RT grid', checkpoint: 'trained', query: { attacks: 'apgdt-linf:0.3:steps=5:targets=2,square-l2:2:queries=50,rt:3:30:grid=3x3x3', n: '20', seed: '1', threads: '1' }, flags: ['--attacks', 'apgdt-linf:0.3:steps=5:targets=2,square-l2:2:queries=50,rt:3:30:grid=3x3x3', '--n', '20', '--seed', '1', '--threads', '1'] },
  { name: 'the quick suite on a random model', checkpoint: 'random', query: { suite: 'quick', threats: 'linf:0.3,l2:2', n: '12', seed: '0', threads: '2' }, flags: ['--suite', 'quick', '--threats', 'linf:0.3,l2:2', '--n', '12', '--seed', '0', '--threads', '2'] },
];

describe('the URL contract', () => {
  for (const c of CASES) {
    it(`gives the CLI's report: ${c.name} (${c.checkpoint} checkpoint)`, async () => {
      const out = join(dir, `${c.checkpoint}-${c.query.seed}.json`);
      await promisify(execFile)(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'eval', '--checkpoint', checkpoints[c.checkpoint], ...c.flags, '--out', out, '--quiet'], { cwd: dir });
      const cli = JSON.parse(readFileSync(out, 'utf8'));
      const q = new URLSearchParams({ checkpoint: checkpoints[c.checkpoint], ...c.query, run: '1' });
      const page = await session.open(`/?${q}`);
      await page.waitForSelector('#report:not([hidden]), #error:not([hidden])', { timeout: 100_000 });
      expect(await page.textContent('#error')).toBe('');
      const web = JSON.parse((await page.textContent('#report'))!);
      expect(Object.keys(web)).toEqual(Object.keys(cli));
      expect(figures(web)).toEqual(figures(cli));
      await page.close();
    });
  }

  it('an ONNX model: the page gives the report of multirobust eval --model FILE.onnx', async () => {
    const onnx = join(dir, 'trained.onnx'), out = join(dir, 'onnx.json');
    const tokens = 'apgd-linf:0.3:steps=5,l2:2:steps=5';
    await promisify(execFile)(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'eval', '--model', onnx, '--attacks', tokens, '--n', '20', '--seed', '2', '--threads', '2', '--out', out, '--quiet'], { cwd: dir });
    const cli = JSON.parse(readFileSync(out, 'utf8'));
    const page = await session.open(`/?${new URLSearchParams({ checkpoint: onnx, attacks: tokens, n: '20', seed: '2', threads: '2', run: '1' })}`);
    await page.waitForSelector('#report:not([hidden]), #error:not([hidden])', { timeout: 100_000 });
    expect(await page.textContent('#error')).toBe('');
    expect(figures(JSON.parse((await page.textContent('#report'))!))).toEqual(figures(cli));
    await page.close();
  });

  it('a relative checkpoint path resolves in the server\'s directory; a bad token is an error on the page', async () => {
    const page = await session.open('/?checkpoint=random.safetensors&attacks=linf:0.3:steps=2&n=5&run=1');
    await page.waitForSelector('#report:not([hidden]), #error:not([hidden])', { timeout: 60_000 });
    expect(JSON.parse((await page.textContent('#report'))!).checkpoint).toBe('random.safetensors');
    const bad = await session.open('/?checkpoint=random.safetensors&attacks=nope:1&n=5&run=1');
    await bad.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    expect(await bad.textContent('#error')).toMatch(/nope/);
    await page.close();
    await bad.close();
  });
});
