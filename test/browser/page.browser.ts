// The page of `multirobust serve` in Chromium, used as a person would: the digits, an attack on a
// checkpoint (images, perturbation, probabilities, norms inside the budget), training a model in
// the page (progress, chart, download) and attacking it, the benchmark panel, and a page without a
// checkpoint. With MULTIROBUST_SCREENSHOTS=1 it writes the screenshots docs/browser.md shows.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveModel } from '../../src/nn/checkpoint.ts';
import { loadMnist } from '../../src/train/data.ts';
import { trainStandard } from '../../src/train/standard.ts';
import { loadEngine } from '../../src/wasm/load.ts';
import { startBrowser, type BrowserSession } from './_browser.ts';

const DOCS = join(import.meta.dirname, '../../docs');
const shots = process.env.MULTIROBUST_SCREENSHOTS === '1';
let session: BrowserSession;
const dir = mkdtempSync(join(tmpdir(), 'page-'));

beforeAll(async () => {
  const engine = await loadEngine({ threads: 2 });
  const { model } = trainStandard(engine, { epochs: 1, batch: 50, seed: 0, lr: 1e-3, limit: 1500, log: () => {} }, { train: loadMnist('train'), test: loadMnist('test') });
  saveModel(join(dir, 'std.safetensors'), model);
  model.dispose();
  await engine.close();
  session = await startBrowser({ cwd: dir, checkpoint: 'std.safetensors' });
});

afterAll(async () => {
  await session?.close();
});

const nonBlank = (png: Buffer) => png.length > 5000;

describe('the page', () => {
  it('attacks a chosen digit of a checkpoint: images, perturbation within ε, probabilities', async () => {
    const page = await session.open('/');
    await page.setViewportSize({ width: 1100, height: 1000 });
    await page.waitForSelector('#digits canvas:nth-child(40)');
    expect(await page.inputValue('#checkpoint')).toBe('std.safetensors');
    await page.click('#digits canvas:nth-child(4)');
    expect(await page.textContent('#chosen')).toMatch(/test image 3, label \d/);
    await page.selectOption('#threat', 'linf');
    await page.fill('#eps', '0.2');
    await page.selectOption('#kind', 'apgd-linf');
    await page.fill('#steps', '20');
    await page.click('#run-attack');
    await page.waitForSelector('#attack-result:not([hidden])', { timeout: 60_000 });
    expect(await page.textContent('#attack-status')).toMatch(/^apgd-linf:0\.2:steps=20: the model (is fooled|resists)/);
    const linf = Number(/L∞ ([\d.]+)/.exec((await page.textContent('#delta-caption'))!)![1]);
    expect(linf).toBeGreaterThan(0);
    expect(linf).toBeLessThanOrEqual(0.2 + 1e-3);
    expect(await page.locator('#probs-adv .bar').count()).toBe(10);
    expect(await page.textContent('#clean-caption')).toMatch(/clean: predicted \d \(label \d\)/);
    if (shots) await page.screenshot({ path: join(DOCS, 'browser-attack.png'), clip: { x: 0, y: 0, width: 1100, height: 940 } });
    // Rotation-translation has no ε.
    await page.selectOption('#threat', 'rt');
    expect(await page.isDisabled('#eps')).toBe(true);
    await page.selectOption('#kind', 'rt');
    await page.click('#run-attack');
    await page.waitForFunction(() => /^rt:3:30/.test(document.getElementById('attack-status')!.textContent ?? ''), null, { timeout: 60_000 });
    await page.selectOption('#threat', 'linf');
    await page.fill('#eps', '-1');
    await page.click('#run-attack');
    expect(await page.textContent('#attack-status')).toMatch(/ε must be a positive number/);
    await page.close();
  });

  it('trains a model in the page with progress and a chart, then attacks it', async () => {
    const page = await session.open('/');
    await page.setViewportSize({ width: 1100, height: 1400 });
    // The screenshot's run is longer, so that its chart shows something.
    await page.fill('#epochs', '1');
    await page.fill('#train-n', shots ? '3000' : '300');
    await page.fill('#train-steps', '2');
    await page.click('#run-train');
    await page.waitForFunction(() => /^trained in/.test(document.getElementById('train-status')!.textContent ?? ''), null, { timeout: 100_000 });
    expect(await page.textContent('#train-status')).toMatch(/clean accuracy [\d.]+ % on the first 500 test images/);
    expect(await page.evaluate(() => (document.getElementById('train-bar') as HTMLProgressElement).value)).toBe(1);
    expect(await page.locator('#chart polyline').count()).toBe(3);
    expect(await page.isChecked('#use-trained')).toBe(true);
    expect(await page.getAttribute('#download', 'href')).toMatch(/^blob:/);
    await page.selectOption('#threat', 'l2');
    await page.selectOption('#kind', 'apgd-l2');
    await page.fill('#steps', '10');
    await page.click('#run-attack');
    await page.waitForSelector('#attack-result:not([hidden])', { timeout: 60_000 });
    const l2 = Number(/L2 ([\d.]+)/.exec((await page.textContent('#delta-caption'))!)![1]);
    expect(l2).toBeLessThanOrEqual(2 + 1e-3);
    if (shots) {
      await page.locator('#train-panel').scrollIntoViewIfNeeded();
      await page.locator('#train-panel').screenshot({ path: join(DOCS, 'browser-training.png') });
    }
    await page.close();
  });

  it('runs the benchmark in the page', async () => {
    const page = await session.open('/');
    await page.click('#run-bench');
    await page.waitForFunction(() => /images\/s/.test(document.getElementById('bench-status')!.textContent ?? ''), null, { timeout: 60_000 });
    const text = (await page.textContent('#bench-status'))!;
    for (const what of ['forward', 'input gradient', 'training step']) expect(Number(new RegExp(`${what} (\\d+) images/s`).exec(text)![1])).toBeGreaterThan(0);
    expect(nonBlank(await page.screenshot())).toBe(true);
    await page.close();
  });

  it('without a checkpoint, offers training first and says so when attacked', async () => {
    const bare = await startBrowser({ cwd: dir });
    try {
      const page = await bare.open('/');
      await page.waitForSelector('#digits canvas');
      expect(await page.textContent('#model-note')).toMatch(/train a model below first/);
      await page.click('#run-attack');
      await page.waitForFunction(() => /checkpoint: give the path/.test(document.getElementById('attack-status')!.textContent ?? ''), null, { timeout: 30_000 });
      await page.close();
    } finally {
      await bare.close();
    }
  });
});
