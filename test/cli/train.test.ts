// `multirobust train` (src/cli/train.ts, src/train/run.ts) as a user runs it: the run directory's
// files; a run killed with SIGKILL (twice, with the state written every step) and resumed ends
// bit-identical to an uninterrupted one; bad input exits 2 with one line and overwrites nothing.
// Narrow CNN (--widths 4,8,32), 400 training images, one kernel thread.
import { spawn } from 'node:child_process';
import { spawnAsync } from '../_helpers/spawn.ts';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { captureErrors } from '../_helpers/console.ts';
import { main } from '../../src/cli/main.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITE_NODE = `${ROOT}node_modules/.bin/vite-node`;
const ENV = { ...process.env, MULTIROBUST_THREADS: '1' };
const SMALL = ['--strategy', 'sampled', '--widths', '4,8,32', '--train-n', '400', '--batch', '50', '--epochs', '2', '--attack-steps', '2',
  '--val-n', '50', '--eval-steps', '2', '--test-n', '40', '--test-steps', '3', '--curve-n', '10', '--checkpoint-every', '1', '--log-every', '1'];

function cli(args: string[]) {
  return spawnAsync(VITE_NODE, [`${ROOT}src/cli/bin.ts`, 'train', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 180_000, env: ENV });
}

/** Starts the CLI and SIGKILLs it once its stderr matches `when`; resolves when it is gone. */
function killWhen(args: string[], when: RegExp): Promise<{ killed: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(VITE_NODE, [`${ROOT}src/cli/bin.ts`, 'train', ...args], { cwd: ROOT, env: ENV });
    let stderr = '', killed = false;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!killed && when.test(stderr)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('exit', () => resolve({ killed, stderr }));
  });
}

const mainErr = (argv: string[]) => captureErrors(() => main(argv));

describe('multirobust train', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cli-train-'));

  it('writes the run directory; killed twice with SIGKILL and resumed, it ends bit-identical to an uninterrupted run', async () => {
    const whole = join(tmp, 'whole');
    const r = await cli([...SMALL, '--out', whole]);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['config.json', 'state.safetensors', 'last.safetensors', 'best-union.safetensors', 'log.jsonl', 'report.json', 'curves.svg', 'eps.svg', 'grid.png']) {
      expect(existsSync(join(whole, f)), f).toBe(true);
    }
    const report = JSON.parse(readFileSync(join(whole, 'report.json'), 'utf8'));
    expect(report.checkpoint).toBe(join(whole, 'last.safetensors'));
    expect(report.n).toBe(40);
    // The final evaluation is the quick suite's cascade over the trained threat models.
    expect(report.suite).toBe('quick');
    expect(report.attacks.map((a: { name: string }) => a.name.split(':').slice(0, 2).join(':'))).toEqual(['apgd-linf:0.3', 'apgdt-linf:0.3', 'square-linf:0.3', 'apgd-l2:2', 'apgdt-l2:2', 'square-l2:2', 'apgd-l1:10', 'apgdt-l1:10', 'square-l1:10']);
    expect(typeof report.union_accuracy).toBe('number');
    expect(r.stdout).toMatch(/union \(Linf, L2, L1\) +\d+\.\d % \[\d+\.\d, \d+\.\d\]/);
    expect(r.stdout).toMatch(/suite quick: apgd-linf:0\.3:steps=50 \(1 run × 50 steps\), apgdt-linf:0\.3:steps=50:targets=3 \(3 targets × 50 steps\), square-linf:0\.3:queries=1000 \(1000 queries\)/);
    expect(r.stdout).toMatch(/masking checks: Linf ok|masking checks: Linf SUSPECTED/);
    expect(r.stdout).toMatch(/time: training \d+:\d\d, evaluation \d+:\d\d/);
    expect(r.stderr, 'plain progress lines when stderr is a pipe').toMatch(/epoch 1\/2 {2}step 3\/8 {2}loss \d\.\d+ {2}clean [\d.]+% {2}adv [\d.]+% .*img\/s {2}ETA/);
    const log = readFileSync(join(whole, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.filter((l) => l.type === 'eval').map((l) => l.epoch)).toEqual([1, 2]);
    expect(log.at(-1).type).toBe('final');
    expect(readFileSync(join(whole, 'grid.png')).subarray(1, 4).toString()).toBe('PNG');
    expect(readFileSync(join(whole, 'curves.svg'), 'utf8')).toMatch(/^<svg/);

    const cut = join(tmp, 'cut');
    const first = await killWhen([...SMALL, '--out', cut], /step 3\/8/);
    expect(first.killed).toBe(true);
    expect(existsSync(join(cut, 'report.json'))).toBe(false);
    const second = await killWhen(['--resume', cut, '--log-every', '1'], /epoch 2\/2 {2}step 2\/8/);
    expect(second.killed).toBe(true);
    expect(second.stderr).toMatch(/resuming at step [1-9]/);
    const done = await cli(['--resume', cut]);
    expect(done.status, done.stderr).toBe(0);
    expect(readFileSync(join(cut, 'last.safetensors'))).toEqual(readFileSync(join(whole, 'last.safetensors')));
    expect(readFileSync(join(cut, 'best-union.safetensors'))).toEqual(readFileSync(join(whole, 'best-union.safetensors')));
    const resumed = JSON.parse(readFileSync(join(cut, 'report.json'), 'utf8'));
    expect(resumed.per_example).toEqual(report.per_example);
    const cutLog = readFileSync(join(cut, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const strip = (l: Record<string, unknown>[]) => l.filter((x) => x.type !== 'final').map(({ imagesPerSec, seconds, ...rest }) => rest);
    expect(strip(cutLog), 'the log has each record once').toEqual(strip(log));
  }, 300_000);

  it('--help lists every flag with its default', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((s: string) => { out.push(s); });
    try {
      expect(await main(['train', '--help'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const text = out.join('\n');
    for (const flag of ['--strategy', '--attacks', '--epochs', '--batch', '--lr', '--seed', '--threads', '--out', '--resume', '--eval-every', '--affine', '--no-start-small']) expect(text).toContain(flag);
    expect(text).toContain('(default max)');
    expect(text).toContain('(default linf:0.3,l2:2,l1:10)');
  });

  it.each([
    [['--strategy', 'best'], /^multirobust train: --strategy must be one of none, single, avg, max, alternate, msd, sampled, got 'best'$/],
    [['--attacks', 'linf:0.3,l7:2'], /^multirobust train: unknown attack 'l7:2'/],
    [['--batch', '0'], /^multirobust train: --batch must be ≥ 1, got '0'$/],
    [['--strategy', 'single', '--attacks', 'linf:0.3,l2:2'], /^multirobust train: strategy single takes exactly one attack, got 2$/],
    [['--epochs', 'two'], /^multirobust train: --epochs must be an integer, got 'two'$/],
  ])('%j: exit 2, one line, no run directory', async (args, message) => {
    const out = join(tmp, `bad-${Math.random().toString(36).slice(2)}`);
    const r = await mainErr(['train', ...args, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.errs).toHaveLength(1);
    expect(r.errs[0]).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  // Issue 30's defect: `--lr-drop 0` wrote config.json and log.jsonl, then died with exit 1;
  // `--eval-steps 0` with an l1apgd training attack trained a whole epoch, then died with exit 1;
  // `--lr-drop` with another schedule was ignored; `--replace` with `--resume` was ignored.
  const TINY = ['--widths', '4,8,32', '--train-n', '100', '--batch', '50', '--epochs', '1', '--attack-steps', '1', '--val-n', '40',
    '--test-suite', 'none', '--test-attacks', 'linf:0.3', '--test-n', '20', '--curve-n', '0', '--threads', '1', '--log-every', '0'];
  const badOnnx = join(tmp, 'bad.onnx');
  writeFileSync(badOnnx, 'not a model');
  it.each([
    [['--model', badOnnx], /^multirobust train: .*bad\.onnx: not an ONNX model/],
    [['--lr-drop', '0'], /^multirobust train: --lr-drop must be ≥ 1, got '0'$/],
    [['--strategy', 'single', '--attacks', 'l1apgd:10', '--eval-steps', '0'], /^multirobust train: --eval-steps 0: .*l1apgd:10.*steps/],
    [['--schedule', 'cosine', '--lr-drop', '5'], /^multirobust train: --lr-drop applies to --schedule step only, got --schedule cosine$/],
    [['--schedule', 'triangular', '--lr-drop', '5'], /^multirobust train: --lr-drop applies to --schedule step only, got --schedule triangular$/],
    // A drop after the last step (TINY: 1 epoch of 2 batches) would never happen: refused, not ignored.
    [['--lr-drop', '3'], /^multirobust train: --lr-drop 3 is after the run's last step \(2\): the rate would never drop$/],
  ])('train validates every flag before it writes anything: %j exits 2 with one line, nothing written', async (args, message) => {
    const out = join(tmp, `early-${Math.random().toString(36).slice(2)}`);
    const r = await mainErr(['train', ...TINY, ...args, '--out', out]);
    expect(r.errs[0]).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.errs).toHaveLength(1);
    expect(existsSync(out), 'no run directory').toBe(false);
  }, 120_000);

  it('train validates every flag before it writes anything: --replace with --resume exits 2 with one line, the run untouched', async () => {
    const run = join(tmp, 'replace-resume');
    expect((await mainErr(['train', ...TINY, '--out', run])).code).toBe(0);
    const before = readFileSync(join(run, 'config.json'), 'utf8');
    const mtime = statSync(join(run, 'last.safetensors')).mtimeMs;
    const r = await mainErr(['train', '--resume', run, '--replace']);
    expect(r).toEqual({ code: 2, errs: [`multirobust train: --replace starts a new run and --resume continues one: give one of them`] });
    expect(readFileSync(join(run, 'config.json'), 'utf8')).toBe(before);
    expect(statSync(join(run, 'last.safetensors')).mtimeMs).toBe(mtime);
  }, 120_000);

  // Issue 30's defect: a resume recorded neither the thread count nor the build, yet the training
  // bits depend on them (after 3 steps 1.48 M of 3.27 M weights differ between 1 and 2 threads).
  it('train --resume records the thread count and the build and refuses a mismatch with exit 2', async () => {
    const run = join(tmp, 'engine-recorded');
    expect((await mainErr(['train', ...TINY, '--out', run])).code).toBe(0);
    const config = readFileSync(join(run, 'config.json'), 'utf8');
    const saved = JSON.parse(config);
    expect(saved.engine).toEqual({ threads: 1, build: expect.stringMatching(/^(release|relaxed|debug)$/), kernels: 'simd' });
    const mtime = statSync(join(run, 'last.safetensors')).mtimeMs;
    const threads = await mainErr(['train', '--resume', run, '--threads', '2']);
    expect(threads).toEqual({ code: 2, errs: [`multirobust train: --resume ${run}: trained with 1 thread, resuming with 2 (the training bits depend on the thread count; use --threads 1)`] });
    const other = saved.engine.build === 'debug' ? 'release' : 'debug';
    process.env.MULTIROBUST_BUILD = other;
    try {
      const build = await mainErr(['train', '--resume', run, '--threads', '1']);
      expect(build).toEqual({ code: 2, errs: [`multirobust train: --resume ${run}: trained with the ${saved.engine.build} build (simd kernels), resuming with the ${other} build (simd kernels) (the training bits depend on the build; set MULTIROBUST_BUILD=${saved.engine.build})`] });
    } finally {
      delete process.env.MULTIROBUST_BUILD;
    }
    expect(readFileSync(join(run, 'config.json'), 'utf8')).toBe(config);
    expect(statSync(join(run, 'last.safetensors')).mtimeMs).toBe(mtime);
  }, 120_000);

  it('train --resume of a run directory from before the engine was recorded: accepted with a warning naming the engine used', async () => {
    const run = join(tmp, 'engine-unrecorded');
    expect((await mainErr(['train', ...TINY, '--out', run])).code).toBe(0);
    const { engine, ...old } = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
    expect(engine.threads).toBe(1);
    writeFileSync(join(run, 'config.json'), `${JSON.stringify(old, null, 2)}\n`);
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (written.push(String(s)), true));
    let r;
    try {
      r = await mainErr(['train', '--resume', run, '--threads', '1']);
    } finally {
      spy.mockRestore();
    }
    expect(r).toEqual({ code: 0, errs: [] });
    expect(written.join('')).toMatch(/warning: --resume .*engine-unrecorded: config\.json records no thread count or build .*resuming with 1 thread, the (release|relaxed|debug) build/);
  }, 120_000);

  it('an unwritable --out, an existing run without --resume, a resume with another configuration: exit 2, nothing overwritten', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const unwritable = await mainErr(['train', '--out', join(file, 'run')]);
    expect(unwritable.code).toBe(2);
    expect(unwritable.errs).toHaveLength(1);
    expect(unwritable.errs[0]).toMatch(/^multirobust train: --out .*a-file\/run: cannot write there/);

    const run = join(tmp, 'existing');
    const r = await cli([...SMALL, '--epochs', '1', '--out', run]);
    expect(r.status, r.stderr).toBe(0);
    const config = readFileSync(join(run, 'config.json'), 'utf8');
    const before = statSync(join(run, 'last.safetensors')).mtimeMs;
    const again = await mainErr(['train', ...SMALL, '--out', run]);
    expect(again).toEqual({ code: 2, errs: [`multirobust train: --out ${run} already holds a run: continue it with --resume ${run}, or choose another directory`] });
    const other = await mainErr(['train', '--resume', run, '--epochs', '3']);
    expect(other).toEqual({ code: 2, errs: [`multirobust train: --resume ${run}: epochs is 3 here but 1 in the saved run (a different configuration)`] });
    const none = await mainErr(['train', '--resume', join(tmp, 'nothing-here')]);
    expect(none.code).toBe(2);
    expect(none.errs[0]).toMatch(/no run there/);
    expect(readFileSync(join(run, 'config.json'), 'utf8')).toBe(config);
    expect(statSync(join(run, 'last.safetensors')).mtimeMs).toBe(before);
  }, 120_000);

  it('standard training (--strategy none) evaluates the held-out slice with the test attacks and finishes (regression: "evaluate: no attacks given")', async () => {
    const out = mkdtempSync(join(tmpdir(), 'train-none-'));
    const code = await main(['train', '--strategy', 'none', '--attacks', '', '--widths', '4,8,32', '--train-n', '100', '--batch', '50', '--epochs', '1', '--val-n', '40',
      '--test-suite', 'none', '--test-attacks', 'linf:0.3:steps=2', '--test-n', '20', '--curve-n', '0', '--out', out, '--threads', '1', '--log-every', '0']);
    expect(code).toBe(0);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const held = log.find((r) => r.type === 'eval');
    expect(held?.threat_models).toHaveProperty('Linf');
    expect(existsSync(join(out, 'report.json'))).toBe(true);
  }, 120_000);
});
