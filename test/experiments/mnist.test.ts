// experiment:mnist (src/experiments/mnist.ts) at the smoke budget: every model's training
// configuration is one `multirobust train` accepts (the reference's step sizes, lr drop at half),
// one whole model through the three stages (train, suite, gradient-free cascade) as child
// processes, the result JSON's figures (intervals, union ≤ threat ≤ clean, the cascade only
// lowers), a second call resuming without re-running anything, the generated tables, and the
// command line (bad flags: one line, exit 2).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { configFromFlags } from '../../src/cli/train.ts';
import { UsageError } from '../../src/cli/flags.ts';
import { main } from '../../src/cli/experiments/mnist.ts';
import { BUDGETS, readMasking, readResults, resultsMarkdown, trainArgs, type MnistResult } from '../../src/experiments/mnist.ts';
import { MODELS, type Figure } from '../../src/experiments/mnist_models.ts';
import { trainingAttacks } from '../../src/train/train.ts';

/** argv (after 'train') → the flag values parseArgs would give. */
function flagValues(args: string[]): Record<string, string> {
  const v: Record<string, string> = {};
  for (let i = 1; i < args.length; i += 2) v[args[i].replace(/^--/, '')] = args[i + 1];
  return v;
}

const inInterval = (f: Figure) => f.interval[0] <= f.accuracy + 1e-12 && f.accuracy <= f.interval[1] + 1e-12;

describe('experiment:mnist configuration', () => {
  it('every model and budget gives a training configuration the CLI accepts, with the lr drop at half the steps', () => {
    for (const b of Object.values(BUDGETS)) {
      for (const m of MODELS) {
        const c = configFromFlags(flagValues(trainArgs(m, b, '/tmp/x')));
        expect(c.strategy).toBe(m.strategy);
        expect(c.attacks).toEqual(m.attacks);
        expect(c.startSmall).toBe(true);
        const steps = c.epochs * Math.ceil((c.trainN ?? 60000 - c.valN) / c.batch);
        expect(c.lrDrop).toBe(Math.floor(steps / 2));
        if (m.attacks.length) expect(trainingAttacks(c).length).toBe(m.attacks.length);
      }
    }
    // The paper budget: 10 epochs of 59,000 images, 5,900 steps, the drop at 2,950.
    expect(configFromFlags(flagValues(trainArgs(MODELS[1], BUDGETS.paper, '/tmp/x'))).lrDrop).toBe(2950);
  });

  it('the training attacks have the reference\'s step sizes', () => {
    const [linf] = trainingAttacks({ strategy: 'single', attacks: [MODELS.find((m) => m.name === 'linf')!.attacks[0]], seed: 0 });
    expect(linf.settings()).toMatchObject({ steps: 10 });
    expect(JSON.stringify(linf.settings())).toMatch(/0\.01/);
  });
});

describe('experiment:mnist smoke run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mnist-exp-'));
  const results = join(dir, 'results');
  const argv = ['--models', 'linf', '--budget', 'smoke', '--dir', join(dir, 'runs'), '--results', results, '--threads', '1', '--quiet'];

  it('trains, evaluates and cascades the gradient-free attacks; a second call resumes without re-running', async () => {
    // The stages are child processes awaited asynchronously: this process's event loop keeps
    // running (regression: spawnSync held a test worker for a whole stage and vitest failed the
    // run with "Timeout calling onTaskUpdate").
    let last = performance.now(), longestGap = 0;
    const ticker = setInterval(() => { const now = performance.now(); longestGap = Math.max(longestGap, now - last); last = now; }, 50);
    const t0 = performance.now();
    try {
      expect(await main(argv)).toBe(0);
    } finally {
      clearInterval(ticker);
    }
    longestGap = Math.max(longestGap, performance.now() - last);
    expect(longestGap, `the event loop stalled for ${longestGap.toFixed(0)} ms of a ${(performance.now() - t0).toFixed(0)} ms run`).toBeLessThan(3000);
    const path = join(results, 'smoke', 'linf.json');
    const r = JSON.parse(readFileSync(path, 'utf8')) as MnistResult;
    expect(r.n).toBe(20);
    expect(r.training.steps).toBe(3);
    expect(r.training.attackGradEvals).toBe(300 * 10);
    expect(r.commands.train).toMatch(/^multirobust train --strategy single --attacks linf:0\.3:steps=10:stepsize=0\.01/);
    for (const f of [r.clean, ...Object.values(r.threats), ...Object.values(r.unions)]) expect(inInterval(f)).toBe(true);
    expect(Object.keys(r.threats).sort()).toEqual(['L1', 'L2', 'Linf', 'RT']);
    for (const t of Object.values(r.threats)) expect(t.correct).toBeLessThanOrEqual(r.clean.correct);
    expect(r.unions.lp!.correct).toBeLessThanOrEqual(Math.min(r.threats.Linf.correct, r.threats.L2.correct, r.threats.L1.correct));
    expect(r.unions.rt!.correct).toBeLessThanOrEqual(Math.min(r.threats.Linf.correct, r.threats.RT.correct));
    expect(r.gradientFree.map((g) => g.threat)).toEqual(['L1', 'L2']);
    for (const g of r.gradientFree) {
      expect(g.n).toBe(10);
      expect(g.withGradientFree.correct).toBeLessThanOrEqual(g.suite.correct);
      expect(g.suite.correct).toBeLessThanOrEqual(g.firstOrder.correct);
      expect(g.attacked).toBe(g.suite.correct);
      expect(g.withGradientFree.correct).toBe(g.suite.correct - g.broke);
    }
    const seconds = r.seconds;
    expect(await main(argv)).toBe(0);
    const again = JSON.parse(readFileSync(path, 'utf8')) as MnistResult;
    expect(again.seconds).toEqual(seconds);
    expect({ ...again, date: '', commit: '' }).toEqual({ ...r, date: '', commit: '' });
    const md = readFileSync(join(results, 'README.md'), 'utf8');
    expect(md).toBe(resultsMarkdown(readResults(results), readMasking(results)));
    expect(md).toMatch(/\| Adv∞ \| \d+\.\d \[/);
    expect(md).toMatch(/UNVERIFIED/);
    expect(md).toMatch(/\| MSD \| 98\.3 \| 62\.7 \| 67\.9 \| 65\.0 \| 58\.4 \|/);
  });

  it('bad flags are a UsageError naming the problem, before any work', async () => {
    await expect(main(['--models', 'linf,nope'])).rejects.toThrow(UsageError);
    await expect(main(['--models', 'nope'])).rejects.toThrow(/unknown model 'nope'/);
    await expect(main(['--budget', 'huge'])).rejects.toThrow(/--budget must be one of paper, reduced, smoke/);
    await expect(main(['--threads', '0'])).rejects.toThrow(UsageError);
    await expect(main(['--bogus'])).rejects.toThrow(UsageError);
  });

  it('the script exits 2 with one line on stderr for a bad flag', async () => {
    const err = await promisify(execFile)('npx', ['vite-node', 'src/cli/bin.ts', 'experiment', 'mnist', '--budget', 'huge'], { cwd: join(import.meta.dirname, '../..') }).then(() => null, (e) => e);
    expect(err?.code).toBe(2);
    expect(err.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^multirobust experiment mnist: --budget must be one of/)]);
  });
});
