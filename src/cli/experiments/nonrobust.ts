// `multirobust experiment nonrobust` (`npm run experiment:nonrobust`): the command of the
// non-robust features experiment (src/experiments/nonrobust.ts): its flags and help, the printed
// table and the JSON. Nothing is written but the model cache (--cache, default runs/experiments/,
// git-ignored) and --json.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkTokens, DEFAULTS, resultTable, runNonrobust, TARGET_RULES, toJson, type NonrobustOptions, type NonrobustResult } from '../../experiments/nonrobust.ts';
import { writeFileAtomic } from '../../io/atomic.ts';
import { pct } from '../../report/format.ts';
import type { ImageDataset } from '../../train/data.ts';
import { withEngine } from '../../wasm/load.ts';
import { intFlag, UsageError } from '../flags.ts';

const HELP = `Usage: multirobust experiment nonrobust [options]   (npm run experiment:nonrobust -- [options])
Adversarial examples as non-robust features: relabel training images with t ≠ y, move each towards t
with a targeted attack on a standard model, train a fresh model on (perturbed image, t) only, and
score it on the clean, correctly labelled test set.
  --attacks LIST    targeted attack tokens, PGD family (default ${DEFAULTS.attacks.join(',')}; options as in eval, e.g. l2:2:steps=20)
  --targets LIST    next ((y + 1) mod 10) and/or random (uniform ≠ y, seeded) (default ${DEFAULTS.targets.join(',')})
  --steps N         steps of a token without steps= (default ${DEFAULTS.steps})
  --train-n N       relabel the first N training images (default ${DEFAULTS.trainN})
  --epochs N        epochs of the new model (default ${DEFAULTS.epochs})
  --test-n N        score on the first N test images (default ${DEFAULTS.testN})
  --standard PATH   the standard model's checkpoint (default: trained once, 1 epoch, cached in --cache)
  --cache DIR       model cache (default ${DEFAULTS.cacheDir})
  --json FILE       also write the figures as JSON
  --seed S          seed (default 0)
  --threads N       kernel threads (default: MULTIROBUST_THREADS or all cores)
  --help`;

function parseList<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const items = value.split(',').map((s) => s.trim());
  for (const s of items) if (!allowed.includes(s as T)) throw new UsageError(`--${flag}: '${s}' is not one of ${allowed.join(', ')}`);
  return items as T[];
}

/** Parses argv into options (UsageError on any bad flag); null for --help. */
function parseFlags(argv: string[], base: NonrobustOptions = DEFAULTS): { opts: NonrobustOptions; json?: string; threads?: number } | null {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        attacks: { type: 'string' }, targets: { type: 'string' }, steps: { type: 'string' }, 'train-n': { type: 'string' }, epochs: { type: 'string' },
        'test-n': { type: 'string' }, standard: { type: 'string' }, cache: { type: 'string' }, json: { type: 'string' }, seed: { type: 'string' },
        threads: { type: 'string' }, help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  if (values.help) return null;
  const opts: NonrobustOptions = {
    ...base,
    attacks: values.attacks !== undefined ? values.attacks.split(',').map((s) => s.trim()) : base.attacks,
    targets: values.targets !== undefined ? parseList('targets', values.targets, TARGET_RULES) : base.targets,
    steps: intFlag('steps', values.steps, { min: 1 }) ?? base.steps,
    trainN: intFlag('train-n', values['train-n'], { min: 1, max: 60000 }) ?? base.trainN,
    epochs: intFlag('epochs', values.epochs, { min: 1 }) ?? base.epochs,
    testN: intFlag('test-n', values['test-n'], { min: 1, max: 10000 }) ?? base.testN,
    seed: intFlag('seed', values.seed, { min: 0 }) ?? base.seed,
    standard: values.standard ?? base.standard,
    cacheDir: values.cache ?? base.cacheDir,
  };
  checkTokens(opts.attacks, opts.steps);
  if (opts.standard) checkCheckpoint(opts.standard);
  return { opts, json: values.json, threads: intFlag('threads', values.threads, { min: 1 }) };
}

/** A checkpoint flag must name a readable safetensors file that fits the CNN (checked when loaded); here: it exists. */
function checkCheckpoint(path: string): void {
  if (!existsSync(path)) throw new UsageError(`checkpoint ${path} does not exist`);
}

export async function main(argv: string[], base: NonrobustOptions = DEFAULTS, data?: { train: ImageDataset; test: ImageDataset }): Promise<number> {
  const parsed = parseFlags(argv, base);
  if (!parsed) {
    console.log(HELP);
    return 0;
  }
  const { opts, json, threads } = parsed;
  const r: NonrobustResult = await withEngine({ threads }, (engine) => runNonrobust(engine, opts, (s) => console.error(s), data));
  console.log(`## Non-robust features: new models trained only on (targeted adversarial image, t ≠ y), first ${r.trainN} training images, ${opts.epochs} epoch(s)\n`);
  console.log(`standard model: ${r.standard.path} (${r.standard.source}${r.standard.source === 'trained' ? ` in ${r.standard.seconds.toFixed(0)} s` : ''}), ${pct(r.standard.testAcc)} on the first ${r.testN} test images\n`);
  console.log(resultTable(r));
  console.log(`\nran in ${(r.seconds / 60).toFixed(1)} min (${r.seconds.toFixed(0)} s; seed ${opts.seed})`);
  if (json) {
    writeFileAtomic(json, JSON.stringify(toJson(r, opts), null, 2) + '\n');
    console.log(`wrote ${json}`);
  }
  return 0;
}
