// Issue 30's defect "experiments write into the tracked docs/ by default": experiment mep wrote
// its chart to docs/mep-tradeoff.svg, invariance its grid to docs/invariance-grid.png, and mnist
// and masking their results into the package's docs/results/mnist, unless told otherwise. Now
// every default is under the working directory's runs/ (git-ignored, like the model cache and
// `multirobust train`'s runs); docs/ only when a flag names it.
import { spawnSync } from 'node:child_process';
import { spawnAsync } from '../_helpers/spawn.ts';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main as masking } from '../../src/cli/experiments/masking.ts';
import { main as mep } from '../../src/cli/experiments/mep.ts';
import { DEFAULTS as INVARIANCE } from '../../src/experiments/invariance.ts';
import { DEFAULTS as MEP, type MepOptions } from '../../src/experiments/mep.ts';
import { DEFAULTS as NONROBUST } from '../../src/experiments/nonrobust.ts';
import { saveModel } from '../../src/nn/checkpoint.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import { loadEngine } from '../../src/index.ts';
import { captureErrors } from '../_helpers/console.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = join(ROOT, 'docs');

/** A fingerprint of every file under docs/ (names and bytes). */
function docsHash(dir = DOCS): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      h.update(p);
      if (e.isDirectory()) walk(p);
      else h.update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

const ignored = (path: string) => spawnSync('git', ['check-ignore', '-q', path], { cwd: ROOT }).status === 0;

describe('experiments write under runs/ by default, not into the tracked docs/', () => {
  const before = docsHash();
  const home = process.cwd();
  afterAll(() => process.chdir(home));

  it('the defaults name runs/, which git ignores', () => {
    for (const path of [INVARIANCE.png, INVARIANCE.cacheDir, NONROBUST.cacheDir]) {
      expect(path.startsWith('runs/')).toBe(true);
      expect(ignored(join(path, 'x')), path).toBe(true);
    }
  });

  it('experiment mnist --table-only: RESULTS/README.md under runs/ in the working directory', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'mnist-table-'));
    const r = await spawnAsync(process.execPath, [join(ROOT, 'dist', 'cli', 'bin.js'), 'experiment', 'mnist', '--table-only'], { cwd, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(cwd, 'runs', 'results', 'mnist', 'README.md'), 'utf8')).toMatch(/^# The paper's MNIST tables/);
    expect(readdirSync(cwd)).toEqual(['runs']);
    expect(ignored('runs/results/mnist/README.md')).toBe(true);
  });

  it('experiment mep: the chart under runs/, in the working directory', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'mep-out-'));
    const small: MepOptions = { ...MEP, d: 50, alphas: [2], ps: [0.7], mc: 0, nTrain: 200, nTest: 200, epochs: 1, rt: { ...MEP.rt, ps: [0.8], nTrain: 50, nTest: 50, tries: 2 } };
    process.chdir(cwd);
    try {
      expect((await captureErrors(() => mep(['--mc', '0', '--threads', '1'], small))).code).toBe(0);
    } finally {
      process.chdir(home);
    }
    expect(existsSync(join(cwd, 'runs', 'experiments', 'mep-tradeoff.svg'))).toBe(true);
    expect(readdirSync(cwd)).toEqual(['runs']);
  });

  it('experiment masking: its JSON, SVG and table under runs/, where experiment mnist reads them', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'masking-out-'));
    const engine = await loadEngine({ threads: 1 });
    const ckpt = join(cwd, 'm.safetensors');
    const model = mnistCnn(engine, 1);
    saveModel(ckpt, model);
    model.dispose();
    await engine.close();
    process.chdir(cwd);
    try {
      expect((await captureErrors(() => masking(['--checkpoints', `tiny=${ckpt}`, '--n', '5', '--threads', '1']))).code).toBe(0);
    } finally {
      process.chdir(home);
    }
    for (const ext of ['json', 'svg', 'md']) expect(existsSync(join(cwd, 'runs', 'results', 'mnist', `masking-checkpoints.${ext}`))).toBe(true);
    expect(readdirSync(cwd).sort()).toEqual(['m.safetensors', 'runs']);
  });

  it('docs/ is unchanged', () => {
    expect(docsHash()).toBe(before);
  });
});
