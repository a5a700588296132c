// `multirobust experiment mnist` (`npm run experiment:mnist`): the command of the paper's MNIST
// tables (src/experiments/mnist.ts): its flags and help, the loop over the models and the printed
// lines. Results go under runs/ (git-ignored, relative to the working directory) unless --results
// names another place: `--results docs/results/mnist` writes the documentation's tables.
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { BIN, BUDGETS, pc, readMasking, readResults, resultsMarkdown, runModel, type Io } from '../../experiments/mnist.ts';
import { MODELS } from '../../experiments/mnist_models.ts';
import { writeFileAtomic } from '../../io/atomic.ts';
import { intFlag, strictFlags, UsageError } from '../flags.ts';

/** Where result JSONs and their README.md go without --results (git-ignored); experiment masking's --out default too. */
export const DEFAULT_RESULTS = 'runs/results/mnist';

const OPTIONS = {
  models: { type: 'string' }, budget: { type: 'string' }, dir: { type: 'string' }, results: { type: 'string' },
  threads: { type: 'string' }, 'table-only': { type: 'boolean' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

const HELP = `usage: multirobust experiment mnist [--models NAME,…|all] [--budget paper|reduced|smoke] [--dir DIR] [--results DIR] [--threads N] [--table-only]
the paper's MNIST models trained with the reference's configuration and evaluated with the standard suite (resumable)
  --models      ${MODELS.map((m) => `${m.name} (${m.label})`).join(', ')}; default all
  --budget      ${Object.values(BUDGETS).map((b) => `${b.name}: ${b.note}`).join('; ')} (default paper)
  --dir         run directories and evaluation states (default ~/.cache/multirobust/mnist/BUDGET)
  --results     result JSONs and their generated README.md (default ${DEFAULT_RESULTS}; docs/results/mnist is the documentation's)
  --threads     kernel threads of every command (default: all cores); the same seed and threads give the same bits
  --table-only  regenerate RESULTS/README.md from the JSONs there and stop
  --quiet       no progress from the commands (this script's own lines only)`;

export async function main(argv: string[]): Promise<number> {
  const values = strictFlags(argv, OPTIONS, HELP);
  if (!values) return 0;
  const budget = BUDGETS[String(values.budget ?? 'paper')];
  if (!budget) throw new UsageError(`--budget must be one of ${Object.keys(BUDGETS).join(', ')}, got '${values.budget}'`);
  const names = values.models === undefined || values.models === 'all' ? MODELS.map((m) => m.name) : String(values.models).split(',');
  const models = names.map((n) => MODELS.find((m) => m.name === n) ?? (() => { throw new UsageError(`--models: unknown model '${n}' (known: ${MODELS.map((m) => m.name).join(', ')})`); })());
  const threads = intFlag('threads', values.threads as string | undefined, { min: 1 }) ?? Number(process.env.MULTIROBUST_THREADS ?? availableParallelism());
  const dir = resolve(String(values.dir ?? join(homedir(), '.cache', 'multirobust', 'mnist', budget.name)));
  const results = resolve(String(values.results ?? DEFAULT_RESULTS));
  const log = (s: string) => console.error(`experiment:mnist: ${s}`);
  const writeTable = () => {
    mkdirSync(results, { recursive: true });
    writeFileAtomic(join(results, 'README.md'), resultsMarkdown(readResults(results), readMasking(results)));
  };
  if (values['table-only']) {
    writeTable();
    log(`wrote ${join(results, 'README.md')}`);
    return 0;
  }
  if (!existsSync(BIN)) throw new UsageError(`${BIN} is missing: run npm run build (npm install does) first`);
  const io: Io = { threads, log, stdio: values.quiet ? 'ignore' : 'inherit' };
  for (const m of models) {
    const t0 = performance.now();
    const r = await runModel(m, budget, dir, results, io);
    writeTable();
    const union = Object.entries(r.unions).map(([t, f]) => `${t} union ${pc(f)}`).join(', ');
    console.log(`${m.name} (${m.label}, ${budget.name}): clean ${pc(r.clean)}, ${Object.entries(r.threats).map(([t, f]) => `${t} ${pc(f)}`).join(', ')}; ${union} (${((performance.now() - t0) / 1000).toFixed(0)} s this call) → ${join(results, budget.name, `${m.name}.json`)}`);
  }
  return 0;
}
