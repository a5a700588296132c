// `multirobust experiment mep` (`npm run experiment:mep`): the command of the mutually exclusive
// perturbations experiment (src/experiments/mep.ts): its flags and help, the printed tables, the
// chart and the JSON. Files go under runs/ (git-ignored) unless a flag names another place:
// `--svg docs/mep-tradeoff.svg` regenerates the chart of docs/experiments.md.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS, gaussianTable, monteCarloTable, rtTable, runMep, toJson, tradeoffSvg, type MepOptions, type MepResult } from '../../experiments/mep.ts';
import { eta } from '../../experiments/gaussian.ts';
import { writeFileAtomic } from '../../io/atomic.ts';
import { withEngine } from '../../wasm/load.ts';
import { intFlag, UsageError } from '../flags.ts';

/** Where the chart goes without --svg (git-ignored). */
export const DEFAULT_SVG = 'runs/experiments/mep-tradeoff.svg';

const HELP = `Usage: multirobust experiment mep [options]   (npm run experiment:mep -- [options])
  --json FILE     also write the Gaussian figures as JSON ("alpha=A,p=P" → f_inf, f_1, best_linear_union, trained)
  --svg FILE      the trade-off chart (default ${DEFAULT_SVG}; docs/mep-tradeoff.svg is the documentation's)
  --seed N        seed of every sample, initialisation and shuffle (default 0)
  --mc N          Monte Carlo samples per setting (default 100000; 0 skips the check)
  --threads N     kernel threads (default: MULTIROBUST_THREADS or all cores)`;

/** The command; `base` replaces the defaults (the tests run a reduced configuration). */
export async function main(argv: string[], base: MepOptions = DEFAULTS): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        json: { type: 'string' }, svg: { type: 'string', default: DEFAULT_SVG }, seed: { type: 'string', default: '0' },
        mc: { type: 'string', default: String(DEFAULTS.mc) }, threads: { type: 'string' }, help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const opts: MepOptions = { ...base, seed: intFlag('seed', values.seed, { min: 0 })!, mc: intFlag('mc', values.mc, { min: 0 })! };
  const r: MepResult = await withEngine({ threads: intFlag('threads', values.threads, { min: 1 }) }, (engine) => runMep(engine, opts, (s) => console.error(`  ${s}`)));
  const t = opts;
  console.log(`## L∞ vs L1 on the Gaussian task (d = ${t.d}, ε∞ = 2η, ε1 = 2; trained: logistic, ${t.nTrain} samples, ${t.epochs} epochs, exact attacks; test sample ${t.nTest})\n`);
  console.log(gaussianTable(r));
  if (opts.mc > 0) {
    console.log(`\n## Monte Carlo check of the closed forms (${opts.mc} samples per setting, exact attacks on every sample; acceptance: ≤ 3)\n`);
    console.log(monteCarloTable(r));
  }
  console.log(`\n## L∞ vs rotation-translation on ${t.rt.size}×${t.rt.size} images (ε∞ = 2η; RT grid ±10°, ±1 px; trained on ${t.rt.nTrain}, ${t.rt.tries} random RT tries; test sample ${t.rt.nTest})\n`);
  console.log(rtTable(r));
  const alpha = opts.alphas.includes(2) ? 2 : opts.alphas[0];
  const svg = await tradeoffSvg(r, opts.d, alpha);
  mkdirSync(dirname(values.svg!), { recursive: true });
  writeFileAtomic(values.svg!, svg);
  console.log(`\nwrote ${values.svg} (α = ${alpha})`);
  if (values.json) {
    writeFileAtomic(values.json, JSON.stringify(toJson(r), null, 2) + '\n');
    console.log(`wrote ${values.json}`);
  }
  console.log(`ran in ${r.seconds.toFixed(1)} s (η = α/√d: ${opts.alphas.map((a) => `α = ${a}: ${eta({ d: opts.d, alpha: a, p: 0.5 }).toFixed(4)}`).join(', ')})`);
  return 0;
}
