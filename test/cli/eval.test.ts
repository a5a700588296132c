// `multirobust eval` and `multirobust attack` as a user runs them: the report's contract (fields,
// order), the files written, and bad input: exit 2, one line on stderr, nothing written.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { captureOutput } from '../_helpers/console.ts';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { saveModel } from '../../src/nn/checkpoint.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import { loadEngine } from '../../src/wasm/load.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cli-eval-'));
const ckpt = join(dir, 'model.safetensors');

/** Runs the CLI in-process; returns the exit code and what it printed. */
const run = (args: string[]) => captureOutput(main, args);

describe('multirobust eval / attack', () => {
  beforeAll(async () => {
    const engine = await loadEngine({ threads: 1 });
    saveModel(ckpt, mnistCnn(engine, 0));
    await engine.close();
  });
  afterAll(() => {});

  it('eval writes the report (contract fields, attacks in --attacks order), the SVG and the grid', async () => {
    const out = join(dir, 'report.json');
    const r = await run(['eval', '--checkpoint', ckpt, '--attacks', 'linf:0.3:steps=2,l2:2,rt:3:30:grid=2x2x3', '--steps', '2', '--n', '20', '--batch', '10',
      '--out', out, '--curves', '--svg', join(dir, 'c.svg'), '--grid', join(dir, 'g.png'), '--threads', '1']);
    expect(r.code, r.err.join('\n')).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.attacks.map((a: { name: string }) => a.name)).toEqual(['linf:0.3:steps=2', 'l2:2', 'rt:3:30:grid=2x2x3']);
    for (const key of ['clean_accuracy', 'union_accuracy']) expect(report[key]).toBeGreaterThanOrEqual(0);
    expect(report.union_accuracy).toBeLessThanOrEqual(Math.min(...report.attacks.map((a: { robust_accuracy: number }) => a.robust_accuracy)));
    expect(report.checkpoint).toBe(ckpt);
    expect(report.attacks[1].grad_evals).toBeGreaterThan(0);
    expect(Object.keys(report.curves)).toEqual(['Linf', 'L2']);
    expect(report.meta.threads).toBe(1);
    expect(readFileSync(join(dir, 'c.svg'), 'utf8')).toMatch(/^<svg/);
    expect([...readFileSync(join(dir, 'g.png')).subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    expect(existsSync(`${out}.state.json`)).toBe(false);
    expect(r.out.join('\n')).toMatch(/union \(all attacks\)/);
  });

  it('attack saves adversarial examples (PyTorch layout) that eval can read back', async () => {
    const save = join(dir, 'adv.safetensors'), grid = join(dir, 'adv.png');
    const r = await run(['attack', '--checkpoint', ckpt, '--attack', 'linf:0.3:steps=2', '--n', '8', '--save', save, '--grid', grid, '--threads', '1']);
    expect(r.code, r.err.join('\n')).toBe(0);
    const f = readSafetensors(save);
    expect(f.tensors.get('adv_inputs')!.shape).toEqual([8, 1, 28, 28]);
    expect(f.tensors.get('labels')!.dtype).toBe('I32');
    expect(f.metadata.attack).toBe('linf:0.3:steps=2');
    expect(existsSync(grid)).toBe(true);
    const again = await run(['eval', '--checkpoint', ckpt, '--data', save, '--attacks', 'linf:0.01:steps=1', '--n', '8', '--threads', '1', '--quiet']);
    expect(again.code, again.err.join('\n')).toBe(0);
  });

  const BAD: [string, string[], RegExp][] = [
    ['unknown token', ['--attacks', 'linf:0.3,lnf:2'], /--attacks: unknown attack 'lnf:2'/],
    ['negative ε', ['--attacks', 'l2:-2'], /--attacks: attack 'l2:-2': eps must be a number ≥ 0/],
    ['unknown flag', ['--bogus', '1'], /bogus/],
    ['bad --n', ['--n', '10x'], /--n must be an integer, got '10x'/],
    ['missing checkpoint file', ['--checkpoint', '/nonexistent/m.safetensors'], /no such file/],
    ['checkpoint that does not fit the model', ['--checkpoint', join(root, 'test/fixtures/torch_tiny_cnn.safetensors')], /--checkpoint .*shape|--checkpoint .*missing|--checkpoint .*unexpected/],
    ['truncated checkpoint', ['--checkpoint', 'TRUNCATED'], /--checkpoint .*TRUNC.*(truncated|bytes|short|header)/i],
    ['images outside [0, 1]', ['--data', 'OUTSIDE'], /images must lie in \[0, 1\], got 1\.5/],
    ['--svg without --curves', ['--svg', 'x.svg'], /--svg needs --curves/],
    ['an output that cannot be written', ['--grid', dir], /--grid: cannot write .*: it is a directory/],
    ['a negative number (parseArgs explains over three lines)', ['--n', '-3'], /argument is ambiguous/],
  ];

  for (const [what, extra, message] of BAD) {
    it(`bad input (${what}): exit 2, one line, nothing written`, async () => {
      const out = join(dir, `bad-${what.replace(/\W+/g, '_')}.json`);
      const truncated = join(dir, 'TRUNCATED.safetensors'), outside = join(dir, 'OUTSIDE.safetensors');
      if (!existsSync(truncated)) writeFileSync(truncated, readFileSync(ckpt).subarray(0, 5000));
      if (!existsSync(outside)) {
        writeSafetensors(outside, { images: { dtype: 'F32', shape: [2, 28, 28, 1], data: new Float32Array(2 * 784).fill(1.5) }, labels: { dtype: 'I32', shape: [2], data: Int32Array.of(1, 2) } });
      }
      const args = ['eval', '--checkpoint', ckpt, '--n', '2', '--threads', '1', '--out', out, ...extra]
        .map((a) => (a === 'TRUNCATED' ? truncated : a === 'OUTSIDE' ? outside : a));
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(message);
      expect(r.err[0]).not.toMatch(/\n\s+at /);
      expect(existsSync(out)).toBe(false);
    });
  }

  // Issue 30's defect: with no norm attack there are no curves to draw; the check came after the
  // whole evaluation, which had written the report and left its state file.
  it('eval --curves --svg with no norm attack fails before the evaluation: exit 2, one line, nothing written', async () => {
    const out = join(dir, 'no-curve.json');
    const r = await run(['eval', '--checkpoint', ckpt, '--attacks', 'rt:3:30:grid=2x2x3', '--n', '4', '--threads', '1', '--out', out, '--curves', '--svg', join(dir, 'no-curve.svg')]);
    expect(r.err).toEqual(['multirobust eval: --svg: no attack to draw curves for (rt:3:30:grid=2x2x3); the curves follow the first-order norm attacks (linf, l2, l1, apgd-…)']);
    expect(r.code).toBe(2);
    for (const f of [out, `${out}.state.json`, join(dir, 'no-curve.svg')]) expect(existsSync(f), f).toBe(false);
  });

  it('no command or an unknown one: one line on stderr, exit 2 (regression: the whole help was printed)', async () => {
    for (const argv of [[], ['evl']]) {
      const r = await run(argv);
      expect(r.code).toBe(2);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(/commands: info, eval, merge, attack, train/);
    }
  });

  it('the built bin: a bad token exits 2 with one line and no stack trace', () => {
    const bin = join(root, 'dist/cli/bin.js');
    const r = spawnSync(process.execPath, [bin, 'eval', '--checkpoint', ckpt, '--attacks', 'linf:0.3,bogus'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/unknown attack 'bogus'/);
  });

  it('--help lists every flag with its default', async () => {
    const r = await run(['eval', '--help']);
    for (const flag of ['--checkpoint', '--attacks', '--n', '--steps', '--restarts', '--out', '--model', '--data', '--curves']) expect(r.out.join('\n')).toContain(flag);
    // --steps has no default of its own: each attack keeps its own unless the flag is given.
    expect(r.out.join('\n')).toMatch(/--steps +VALUE steps of the attacks whose kind declares it.*unset: each attack's own default$/m);
    // Every kind's options with their real defaults, and the suites.
    expect(r.out.join('\n')).toMatch(/boundary:EPS[\s\S]*steps=int +iterations; 0: the starting point only, after its line search \(the CLI's --steps does not reach it\); default 400 \(reference: 5000\)/);
    expect(r.out.join('\n')).toMatch(/apgd-linf:EPS[\s\S]*steps=int .*default 100 \(--steps sets it\)/);
    expect(r.out.join('\n')).toMatch(/square-l1:EPS[\s\S]*queries=int .*default 5000/);
    expect(r.out.join('\n')).toMatch(/standard +AutoAttack's standard per threat model/);
    expect(r.out.join('\n')).toMatch(/--model .*\(default mnist-cnn\)/);
  });
});
