// `multirobust experiment invariance` (`npm run experiment:invariance`): the command of the
// excessive-invariance experiment (src/experiments/invariance.ts): its flags and help, the printed
// tables, the PNG grid and the JSON. Files go under runs/ (git-ignored) unless a flag names another
// place: `--png docs/invariance-grid.png` regenerates the grid of docs/experiments.md.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { ballName, DEFAULTS, invarianceTable, modelsTable, runInvariance, toJson, type Ball, type BallNorm, type InvarianceOptions, type InvarianceResult } from '../../experiments/invariance.ts';
import { LINF, MULTI, STANDARD } from '../../experiments/models.ts';
import { writeFileAtomic } from '../../io/atomic.ts';
import type { ImageDataset } from '../../train/data.ts';
import { withEngine } from '../../wasm/load.ts';
import { intFlag, numberFlag, UsageError } from '../flags.ts';

/** Parses 'linf:0.3,l1:30' (UsageError on a bad entry). */
export function parseBalls(value: string): Ball[] {
  return value.split(',').map((s) => {
    const m = /^(linf|l2|l1):(.+)$/.exec(s.trim());
    if (!m) throw new UsageError(`--balls: '${s}' must be NORM:EPS with NORM one of linf, l2, l1 (e.g. linf:0.3)`);
    return { norm: m[1] as BallNorm, eps: numberFlag('balls', m[2], { gt: 0 })! };
  });
}

const HELP = `Usage: multirobust experiment invariance [options]   (npm run experiment:invariance -- [options])
Excessive invariance: move test images within an ε-ball as close as possible to a training image of
another class, and see which models keep their label (standard, Adv∞ 0.3, the npm start model).
  --balls LIST      balls NORM:EPS, NORM in linf, l2, l1 (default ${DEFAULTS.balls.map(ballName).join(',')})
  --n N             test images, the first N every model classifies correctly (default ${DEFAULTS.n})
  --pool N          search the targets among the first N training images (default ${DEFAULTS.pool})
  --candidates K    nearest other-class images (L2) projected per test image (default ${DEFAULTS.candidates})
  --eval-n N        test images of the clean/robust accuracy table (default ${DEFAULTS.evalN})
  --eval-steps N    steps of its attacks (default ${DEFAULTS.evalSteps})
  --grid-k N        examples drawn in the PNG (default ${DEFAULTS.gridK})
  --png FILE        the grid (default ${DEFAULTS.png}; docs/invariance-grid.png is the documentation's)
  --standard PATH   standard model checkpoint (default: trained once and cached in --cache: ${STANDARD.note})
  --linf PATH       Adv∞ checkpoint (default: cached; ${LINF.note})
  --multi PATH      multi-perturbation checkpoint, e.g. runs/start/last.safetensors (default: cached; ${MULTI.note})
  --cache DIR       model cache (default ${DEFAULTS.cacheDir})
  --json FILE       also write the figures as JSON
  --seed S          seed of the models and the evaluation (default 0)
  --threads N       kernel threads (default: MULTIROBUST_THREADS or all cores)
  --help`;

/** Parses argv into options (UsageError on any bad flag); null for --help. */
function parseFlags(argv: string[], base: InvarianceOptions = DEFAULTS): { opts: InvarianceOptions; json?: string; threads?: number } | null {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        balls: { type: 'string' }, n: { type: 'string' }, pool: { type: 'string' }, candidates: { type: 'string' }, 'eval-n': { type: 'string' },
        'eval-steps': { type: 'string' }, 'grid-k': { type: 'string' }, png: { type: 'string' }, standard: { type: 'string' }, linf: { type: 'string' },
        multi: { type: 'string' }, cache: { type: 'string' }, json: { type: 'string' }, seed: { type: 'string' }, threads: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  if (values.help) return null;
  const opts: InvarianceOptions = {
    ...base,
    balls: values.balls !== undefined ? parseBalls(values.balls) : base.balls,
    n: intFlag('n', values.n, { min: 1, max: 10000 }) ?? base.n,
    pool: intFlag('pool', values.pool, { min: 1, max: 60000 }) ?? base.pool,
    candidates: intFlag('candidates', values.candidates, { min: 1, max: 1000 }) ?? base.candidates,
    evalN: intFlag('eval-n', values['eval-n'], { min: 1, max: 10000 }) ?? base.evalN,
    evalSteps: intFlag('eval-steps', values['eval-steps'], { min: 1 }) ?? base.evalSteps,
    gridK: intFlag('grid-k', values['grid-k'], { min: 1, max: 64 }) ?? base.gridK,
    png: values.png ?? base.png,
    seed: intFlag('seed', values.seed, { min: 0 }) ?? base.seed,
    cacheDir: values.cache ?? base.cacheDir,
    standard: values.standard ?? base.standard,
    linf: values.linf ?? base.linf,
    multi: values.multi ?? base.multi,
  };
  for (const flag of ['standard', 'linf', 'multi'] as const) {
    const p = opts[flag];
    if (p !== undefined && !existsSync(p)) throw new UsageError(`--${flag}: checkpoint ${p} does not exist`);
  }
  return { opts, json: values.json, threads: intFlag('threads', values.threads, { min: 1 }) };
}

export async function main(argv: string[], base: InvarianceOptions = DEFAULTS, data?: { train: ImageDataset; test: ImageDataset }): Promise<number> {
  const parsed = parseFlags(argv, base);
  if (!parsed) {
    console.log(HELP);
    return 0;
  }
  const { opts, json, threads } = parsed;
  const r: InvarianceResult = await withEngine({ threads }, (engine) => runInvariance(engine, opts, (s) => console.error(s), data));
  console.log(`## The models (first ${Math.min(opts.evalN, 10000)} test images, ${opts.evalSteps}-step attacks: PGD L∞, PGD L2, SLIDE L1)\n`);
  console.log(modelsTable(r));
  console.log(`\n## Excessive invariance: ${r.examples.length} test images (the first ${r.examples.length} of ${r.scanned} that every model classifies correctly), each moved inside the ball towards the nearest-reachable of its ${opts.candidates} nearest training images of another class (pool ${opts.pool})\n`);
  console.log(invarianceTable(r));
  mkdirSync(dirname(opts.png), { recursive: true });
  writeFileAtomic(opts.png, r.grid);
  console.log(`\nwrote ${opts.png} (${r.grid.length} bytes; the first ${Math.min(opts.gridK, r.examples.length)} images; in-ball captions: S = standard, A = Adv∞, M = multi)`);
  if (json) {
    writeFileAtomic(json, JSON.stringify(toJson(r, opts), null, 2) + '\n');
    console.log(`wrote ${json}`);
  }
  console.log(`ran in ${(r.seconds / 60).toFixed(1)} min (${r.seconds.toFixed(0)} s; seed ${opts.seed})`);
  return 0;
}
