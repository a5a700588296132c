// `multirobust experiment <name>`: the experiments are CLI commands and the npm scripts call them.
// Every `experiment:*` script is `vite-node src/cli/bin.ts experiment NAME` (so `npm run
// experiment:mep -- FLAGS` is `multirobust experiment mep FLAGS`), the group lists its experiments,
// and bad input is one line on stderr and exit code 2 before any work (dist/cli/bin.js, as
// installed; one run through vite-node, as the npm scripts run it).
import { spawnAsync } from '../_helpers/spawn.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXPERIMENTS } from '../../src/cli/experiment.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'dist', 'cli', 'bin.js');
const NAMES = ['mep', 'nonrobust', 'invariance', 'mnist', 'masking'];

const cli = (args: string[]) => spawnAsync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, MULTIROBUST_THREADS: '1' } });

describe('multirobust experiment', () => {
  it('every experiment:* npm script calls `multirobust experiment NAME`, and every experiment has one', () => {
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
    const experiments = Object.keys(scripts).filter((k) => k.startsWith('experiment:'));
    expect(experiments.sort()).toEqual(NAMES.map((n) => `experiment:${n}`).sort());
    for (const n of NAMES) expect(scripts[`experiment:${n}`]).toBe(`vite-node src/cli/bin.ts experiment ${n}`);
    expect(Object.keys(EXPERIMENTS).sort()).toEqual([...NAMES].sort());
  });

  it('--help lists the experiments; none or an unknown one is exit code 2 with one line', async () => {
    const help = await cli(['experiment', '--help']);
    expect(help.status).toBe(0);
    for (const n of NAMES) expect(help.stdout).toMatch(new RegExp(`^  ${n} `, 'm'));
    expect((await cli(['--help'])).stdout).toMatch(/^ {2}experiment /m);
    for (const [args, message] of [[[], 'no experiment given'], [['bogus'], "unknown experiment 'bogus'"], [['constructor'], "unknown experiment 'constructor'"]] as const) {
      const r = await cli(['experiment', ...args]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(`multirobust experiment: ${message}`)]);
    }
  });

  it.each([
    ['mep', ['--mc', 'many'], "--mc must be an integer, got 'many'"],
    ['nonrobust', ['--targets', 'sideways'], "--targets: 'sideways' is not one of next, random"],
    ['invariance', ['--n', '0'], "--n must be ≥ 1, got '0'"],
    ['mnist', ['--budget', 'huge'], '--budget must be one of paper, reduced, smoke'],
    ['masking', ['--checkpoints', 'nopath'], "--checkpoints: expected NAME=PATH, got 'nopath'"],
    ['masking', ['--bogus'], "Unknown option '--bogus'"],
    // node's parseArgs explains this one over three lines: the first names the problem.
    ['mep', ['--seed', '-1'], "Option '--seed' argument is ambiguous."],
  ])('%s %j: exit code 2, one line', async (name, args, message) => {
    const r = await cli(['experiment', name, ...args]);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^multirobust experiment ${name}: `))]);
    expect(r.stderr).toContain(message);
    expect(r.status).toBe(2);
  });

  it('each experiment prints its own --help with its flags', async () => {
    for (const [name, flag] of [['mep', '--svg'], ['nonrobust', '--targets'], ['invariance', '--balls'], ['mnist', '--table-only'], ['masking', '--checkpoints']]) {
      const r = await cli(['experiment', name, '--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`multirobust experiment ${name}`);
      expect(r.stdout).toContain(flag);
    }
  });

  it('npm run experiment:mep -- --help and a bad flag, as vite-node runs them', async () => {
    const vn = (args: string[]) => spawnAsync(join(ROOT, 'node_modules/.bin/vite-node'), ['src/cli/bin.ts', 'experiment', 'mep', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const help = await vn(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--svg FILE');
    const bad = await vn(['--seed=-1']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe("multirobust experiment mep: --seed must be ≥ 0, got '-1'");
  }, 60_000);
});
