// Child processes for tests, without blocking the test worker: spawnSync holds the worker's event
// loop for the whole child run (vite-node starts in 10–30 s on a loaded machine), and vitest then
// fails the run with "Timeout calling onTaskUpdate". Same result shape as spawnSync's.
import { spawn, type SpawnOptions } from 'node:child_process';

export interface SpawnResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args` to its end (killed after `timeout` ms if given; output is always utf8 text); never rejects for a non-zero exit. */
export function spawnAsync(command: string, args: string[], options: SpawnOptions & { timeout?: number; encoding?: 'utf8' } = {}): Promise<SpawnResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    const timer = options.timeout ? setTimeout(() => child.kill('SIGKILL'), options.timeout) : undefined;
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (status, signal) => { clearTimeout(timer); resolve({ status, signal, stdout, stderr }); });
  });
}
