// eval --html in Chromium: the file opens offline from file:// with its charts drawn (SVG with
// bars and the curves' lines, the grid image decoded) and a screenshot that is not blank.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { saveModel } from '../../src/nn/checkpoint.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import { loadEngine } from '../../src/wasm/load.ts';
import { CHROMIUM_ARGS, findChromium } from './chromium.mjs';

describe('the HTML report', () => {
  it('opens offline in Chromium with its charts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'report-'));
    const engine = await loadEngine({ threads: 1 });
    saveModel(join(dir, 'm.safetensors'), mnistCnn(engine, 4));
    await engine.close();
    await promisify(execFile)(process.execPath, [join(import.meta.dirname, '../../dist/cli/bin.js'), 'eval', '--checkpoint', join(dir, 'm.safetensors'), '--attacks', 'linf:0.1:steps=3,l2:1:steps=3', '--n', '20', '--curves', '--html', join(dir, 'r.html'), '--quiet', '--threads', '1']);
    const browser = await chromium.launch({ executablePath: findChromium()!, args: [...CHROMIUM_ARGS, '--offline'] });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${join(dir, 'r.html')}`);
      expect(await page.locator('svg').count()).toBe(2);
      expect(await page.locator('svg rect').count()).toBeGreaterThanOrEqual(4);
      expect(await page.locator('svg path').count()).toBeGreaterThan(0); // the curves' lines (vega)
      expect(await page.evaluate(() => (document.querySelector('img') as HTMLImageElement).naturalWidth)).toBeGreaterThan(100);
      expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
      const png = await page.screenshot({ fullPage: true });
      expect(png.length).toBeGreaterThan(20_000);
    } finally {
      await browser.close();
    }
  });
});
