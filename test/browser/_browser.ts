// Shared by the browser tests: a `multirobust serve` server on a free port (in this process) and a
// headless Chromium page on it, driven by playwright-core (no browser download: Debian's binary).
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createAppServer } from '../../src/serve/server.ts';
import { CHROMIUM_ARGS, findChromium, INSTALL_HINT } from './chromium.mjs';

export interface BrowserSession {
  browser: Browser;
  base: string;
  /** Console lines of every page opened with open(). */
  console: string[];
  open(path?: string): Promise<Page>;
  close(): Promise<void>;
}

export async function startBrowser(opts: { cwd?: string; checkpoint?: string } = {}): Promise<BrowserSession> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(INSTALL_HINT);
  const server = createAppServer({ cwd: opts.cwd, checkpoint: opts.checkpoint }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  const consoleLines: string[] = [];
  return {
    browser, base, console: consoleLines,
    async open(path = '/') {
      const page = await browser.newPage();
      page.on('console', (m) => consoleLines.push(m.text()));
      page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
      await page.goto(`${base}${path}`);
      await page.waitForFunction(() => (window as unknown as { multirobust?: unknown }).multirobust !== undefined, null, { timeout: 30_000 });
      return page;
    },
    async close() {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** window.multirobust.call(msg) in the page: an operation of the engine thread (src/serve/app_worker.ts). */
export function callPage<T = Record<string, unknown>>(page: Page, msg: Record<string, unknown>): Promise<T & { ok: boolean; error?: string }> {
  return page.evaluate((m) => (window as unknown as { multirobust: { call(m: unknown): Promise<unknown> } }).multirobust.call(m), msg) as Promise<T & { ok: boolean; error?: string }>;
}
