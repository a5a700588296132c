// Runs a CLI main() with console.error captured (and console.log silenced), for exit-code tests.
import { vi } from 'vitest';

export async function captureErrors(run: () => Promise<number>): Promise<{ code: number; errs: string[] }> {
  const errs: string[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((s: string) => { errs.push(s); });
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    return { code: await run(), errs };
  } finally {
    spy.mockRestore();
    log.mockRestore();
  }
}
