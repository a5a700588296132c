// Runs a CLI main() with its output captured: captureErrors (console.error; console.log silenced) for
// exit-code tests, captureOutput (console.log, console.error and process.stderr.write) for reports.
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

/** Runs `main(args)` in-process; returns the exit code and every line it printed (stdout, stderr). */
export async function captureOutput(main: (args: string[]) => Promise<number>, args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [], err: string[] = [];
  const log = console.log, error = console.error, write = process.stderr.write;
  console.log = (s: string) => out.push(String(s));
  console.error = (s: string) => err.push(String(s));
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(args), out, err };
  } finally {
    console.log = log;
    console.error = error;
    process.stderr.write = write;
  }
}
