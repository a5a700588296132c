// `multirobust experiment masking` (`npm run experiment:masking`): the command of the thresholding
// measures (src/experiments/masking.ts): its flags and help, which checkpoints, and the JSON, SVG
// and Markdown table it writes. Files go under runs/ (git-ignored) unless --out names another
// place: `--out docs/results/mnist` writes the documentation's.
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { conv1Weights, FLAT_EPS, maskingMarkdown, maskingSvg, measureMasking, type MaskingStats } from '../../experiments/masking.ts';
import { MODELS } from '../../experiments/mnist_models.ts';
import { loadCnn } from '../../experiments/models.ts';
import { writeFileAtomic } from '../../io/atomic.ts';
import type { Module } from '../../nn/module.ts';
import { loadMnist } from '../../train/data.ts';
import { loadEngine } from '../../wasm/load.ts';
import { intFlag, strictFlags, UsageError } from '../flags.ts';
import { DEFAULT_RESULTS } from './mnist.ts';

const OPTIONS = {
  budget: { type: 'string' }, models: { type: 'string' }, dir: { type: 'string' }, checkpoints: { type: 'string' },
  n: { type: 'string' }, out: { type: 'string' }, threads: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

const HELP = `usage: multirobust experiment masking [--budget paper] [--models nat,linf,…] [--checkpoints NAME=PATH,…] [--n 1000] [--out DIR] [--threads N]
thresholding and gradient masking, measured on each model's first n test images
  --budget       experiment:mnist's budget whose finished models are measured (default paper)
  --models       of those, these (default: every model whose training finished)
  --dir          experiment:mnist's run directories (default ~/.cache/multirobust/mnist/BUDGET)
  --checkpoints  instead, NAME=PATH pairs of checkpoints of the paper's CNN
  --n            test images (default 1000)
  --out          writes masking-BUDGET.json, .svg and .md there (default ${DEFAULT_RESULTS}, where experiment mnist's table reads them; docs/results/mnist is the documentation's)
  --threads      kernel threads (default: all cores)`;

export async function main(argv: string[]): Promise<number> {
  const values = strictFlags(argv, OPTIONS, HELP);
  if (!values) return 0;
  const n = intFlag('n', (values.n as string | undefined) ?? '1000', { min: 1, max: 10000 })!;
  const threads = intFlag('threads', values.threads as string | undefined, { min: 1 });
  const budget = String(values.budget ?? 'paper');
  let pairs: [string, string][];
  if (values.checkpoints !== undefined) {
    pairs = String(values.checkpoints).split(',').map((p) => {
      const at = p.indexOf('=');
      if (at <= 0 || at === p.length - 1) throw new UsageError(`--checkpoints: expected NAME=PATH, got '${p}'`);
      return [p.slice(0, at), p.slice(at + 1)];
    });
  } else {
    const dir = resolve(String(values.dir ?? join(homedir(), '.cache', 'multirobust', 'mnist', budget)));
    const wanted = values.models === undefined ? MODELS.map((m) => m.name) : String(values.models).split(',');
    for (const w of wanted) if (!MODELS.some((m) => m.name === w)) throw new UsageError(`--models: unknown model '${w}'`);
    pairs = MODELS.filter((m) => wanted.includes(m.name) && existsSync(join(dir, m.name, 'run', 'report.json'))).map((m) => [m.label, join(dir, m.name, 'run', 'last.safetensors')]);
    if (!pairs.length) throw new UsageError(`no finished experiment:mnist model under ${dir}`);
  }
  for (const [, path] of pairs) if (!existsSync(path)) throw new UsageError(`${path}: no such checkpoint`);
  const weights = pairs.map(([, path]) => conv1Weights(path));
  const out = resolve(String(values.out ?? DEFAULT_RESULTS));
  const test = loadMnist('test');
  const engine = await loadEngine({ threads });
  const stats: MaskingStats[] = [];
  try {
    for (const [k, [name, path]] of pairs.entries()) {
      let model: Module;
      try {
        model = loadCnn(engine, path);
      } catch (err) {
        throw new UsageError(`${path}: ${(err as Error).message.split('\n')[0]}`);
      }
      stats.push(measureMasking(engine, model, weights[k], test, Math.min(n, test.n), name, path.replace(homedir(), '~')));
      model.dispose();
      console.error(`experiment:masking: ${name} done`);
    }
  } finally {
    await engine.close();
  }
  mkdirSync(out, { recursive: true });
  const base = join(out, `masking-${values.checkpoints !== undefined ? 'checkpoints' : budget}`);
  writeFileAtomic(`${base}.json`, `${JSON.stringify({ n, eps: FLAT_EPS, threads: engine.threads, date: new Date().toISOString(), models: stats }, null, 2)}\n`);
  writeFileAtomic(`${base}.svg`, await maskingSvg(stats));
  const md = maskingMarkdown(stats, `${base.split('/').at(-1)}.svg`);
  writeFileAtomic(`${base}.md`, `${md}\n`);
  console.log(md);
  return 0;
}
