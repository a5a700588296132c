// The engine in headless Chromium (npm run test:browser): the same bits as Node for the same
// thread count (forward pass, input gradient, three Adam training steps of the paper's CNN), with
// 1 and 2 threads in a cross-origin-isolated page; without isolation, one thread and a warning,
// still Node's one-thread bits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfTest } from '../../src/serve/selftest.ts';
import { loadMnist } from '../../src/train/data.ts';
import { loadEngine } from '../../src/wasm/load.ts';
import { callPage, startBrowser, type BrowserSession } from './_browser.ts';

let session: BrowserSession;
const node: Record<number, ReturnType<typeof selfTest>> = {};

beforeAll(async () => {
  const test = loadMnist('test');
  for (const threads of [1, 2]) {
    const engine = await loadEngine({ threads });
    node[threads] = selfTest(engine, test.images, test.labels);
    await engine.close();
  }
  session = await startBrowser();
});

afterAll(async () => {
  await session?.close();
});

describe('the engine in Chromium', () => {
  for (const threads of [1, 2]) {
    it(`gives Node's bits with ${threads} thread${threads > 1 ? 's' : ''} (cross-origin isolated page)`, async () => {
      const page = await session.open('/');
      expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
      const r = await callPage<{ results: ReturnType<typeof selfTest>; threads: number; build: string; limitMiB: number }>(page, { op: 'selftest', threads });
      expect(r.error).toBeUndefined();
      expect(r.threads).toBe(threads);
      expect(r.limitMiB).toBe(1024); // a modest shared memory in browsers
      expect(r.results).toEqual(node[threads]);
      await page.close();
    });
  }

  it('falls back to one thread with a warning when the page is not cross-origin isolated', async () => {
    const page = await session.open('/?noisolation=1');
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(false);
    session.console.length = 0;
    const r = await callPage<{ results: ReturnType<typeof selfTest>; threads: number }>(page, { op: 'selftest', threads: 2 });
    expect(r.error).toBeUndefined();
    expect(r.threads).toBe(1);
    expect(r.results).toEqual(node[1]);
    expect(session.console.some((l) => /not cross-origin isolated.*single-threaded/.test(l))).toBe(true);
    expect(await page.textContent('#isolation')).toMatch(/not cross-origin isolated/);
    await page.close();
  });

  it('reports an unknown operation and a missing checkpoint as errors, not hangs', async () => {
    const page = await session.open('/');
    expect((await callPage(page, { op: 'nope' })).error).toMatch(/unknown operation 'nope'/);
    expect((await callPage(page, { op: 'eval', checkpoint: 'missing.safetensors', attacks: 'linf:0.3', n: 5 })).error).toMatch(/checkpoint missing\.safetensors: HTTP 404/);
    expect((await callPage(page, { op: 'eval', checkpoint: 'x.bin', attacks: 'linf:0.3', n: 5 })).error).toMatch(/HTTP 400/);
    await page.close();
  });
});
