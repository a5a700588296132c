// The bench scripts' flags go through src/cli/flags.ts: a bad value exits 2 with one line on
// stderr before anything is timed (no benchmark runs here). The e2e and peers scripts load
// tfjs and jax-js first (~12 s each), so one of them is checked here.
import { spawnAsync } from '../_helpers/spawn.ts';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('bench script flags', () => {
  it.each([
    ['bench/profile.bench.ts', ['--iters', 'x'], "bench:profile: --iters must be an integer, got 'x'"],
    ['bench/profile.bench.ts', ['--threads', '0'], "bench:profile: --threads must be ≥ 1, got '0'"],
    ['bench/e2e.bench.ts', ['--threads', '1.5'], "bench: --threads must be an integer, got '1.5'"],
  ])('%s %j exits 2: %s', async (script, args, message) => {
    const r = await spawnAsync(`${ROOT}node_modules/.bin/vite-node`, [script, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr.trim()).toBe(message);
    expect(r.status).toBe(2);
  }, 60_000);
});
