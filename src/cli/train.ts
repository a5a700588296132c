// `multirobust train`: adversarial training for multiple perturbations in a run directory
// (src/train/run.ts: config, state, last/best-union models, log.jsonl, report.json, plots, grid).
//
//   multirobust train --strategy max --attacks linf:0.3,l2:2,l1:10 --epochs 10 --batch 100 \
//                     --lr 1e-3 --seed 0 --threads 2 --out runs/NAME
//   multirobust train --resume runs/NAME          (continues after any interruption)
//
// Bad input (unknown strategy or attack token, --batch 0, an unwritable --out, a directory that
// already holds another run (unless --replace), an ONNX model that does not fit, a --resume whose flags, thread
// count or build differ from the saved run's) is found before any work: one line on stderr, exit 2, nothing
// overwritten. config.json records the engine (threads, build, kernels), on which the training bits depend; a
// resume without --threads or MULTIROBUST_THREADS/BUILD/KERNELS uses the recorded one. A run directory from
// before the engine was recorded resumes with a warning (its engine cannot be checked). Results go to stdout, progress
// (a bar on a TTY, plain lines otherwise) to stderr. Threading: --threads kernel threads.
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic.ts';
import { checkConfig, DEFAULT_CONFIG, engineMismatch, modelFactory, runEngine, runPaths, runTraining, type RunConfig } from '../train/run.ts';
import { STRATEGIES, type Strategy } from '../train/strategies.ts';
import { SCHEDULES, type ScheduleName } from '../train/train.ts';
import { loadTrainingState } from '../nn/checkpoint.ts';
import { mnistCnn } from '../nn/models.ts';
import { importOnnx } from '../onnx/import.ts';
import { Adam } from '../nn/optim.ts';
import type { Engine } from '../wasm/engine.ts';
import { loadEngine, supportsRelaxed } from '../wasm/load.ts';
import { splitTokens } from '../attacks/parse.ts';
import { SUITES } from '../eval/suites.ts';
import { intFlag, numberFlag, UsageError } from './flags.ts';

/** A comma-separated token list (parentheses kept together); a malformed one is a UsageError. */
function splitTokensOrUsage(s: string): string[] {
  try {
    return splitTokens(s);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

type Values = Record<string, string | boolean | undefined>;

const D = DEFAULT_CONFIG;

/** Flag → how it sets the configuration. Only flags given on the command line are applied. */
const SETTERS: Record<string, (c: RunConfig, v: string | boolean) => void> = {
  model: (c, v) => {
    const m = String(v);
    if (m !== 'mnist-cnn' && !m.endsWith('.onnx')) throw new UsageError(`--model must be mnist-cnn or an ONNX file (FILE.onnx), got '${v}'`);
    if (m.endsWith('.onnx') && !existsSync(m)) throw new UsageError(`--model ${m}: no such file`);
    c.model = m;
  },
  widths: (c, v) => {
    const parts = String(v).split(',');
    if (parts.length !== 3) throw new UsageError(`--widths must be C1,C2,HIDDEN (e.g. 32,64,1024), got '${v}'`);
    const [c1, c2, hidden] = parts.map((p, i) => intFlag(['widths (conv1)', 'widths (conv2)', 'widths (hidden)'][i], p, { min: 1 })!);
    c.widths = { c1, c2, hidden };
  },
  strategy: (c, v) => {
    if (!(STRATEGIES as readonly string[]).includes(String(v))) throw new UsageError(`--strategy must be one of ${STRATEGIES.join(', ')}, got '${v}'`);
    c.strategy = v as Strategy;
  },
  attacks: (c, v) => { c.attacks = String(v) === '' ? [] : splitTokensOrUsage(String(v)); },
  affine: (c, v) => { c.affine = v === true; },
  'attack-steps': (c, v) => { c.attackSteps = intFlag('attack-steps', String(v), { min: 0 })!; },
  'no-start-small': (c, v) => { c.startSmall = v !== true; },
  epochs: (c, v) => { c.epochs = intFlag('epochs', String(v), { min: 1 })!; },
  batch: (c, v) => { c.batch = intFlag('batch', String(v), { min: 1 })!; },
  lr: (c, v) => { c.lr = numberFlag('lr', String(v), { gt: 0 })!; },
  schedule: (c, v) => {
    if (!(SCHEDULES as readonly string[]).includes(String(v))) throw new UsageError(`--schedule must be one of ${SCHEDULES.join(', ')}, got '${v}'`);
    c.schedule = v as ScheduleName;
  },
  'lr-drop': (c, v) => { c.lrDrop = intFlag('lr-drop', String(v), { min: 1 })!; },
  seed: (c, v) => { c.seed = intFlag('seed', String(v), { min: 0 })!; },
  'train-n': (c, v) => { c.trainN = intFlag('train-n', String(v), { min: 1 })!; },
  'val-n': (c, v) => { c.valN = intFlag('val-n', String(v), { min: 1 })!; },
  'eval-every': (c, v) => { c.evalEvery = intFlag('eval-every', String(v), { min: 1 })!; },
  'eval-steps': (c, v) => { c.evalSteps = intFlag('eval-steps', String(v), { min: 0 })!; },
  'test-attacks': (c, v) => { c.testAttacks = splitTokensOrUsage(String(v)); },
  'test-suite': (c, v) => {
    if (v !== 'none' && !(SUITES as readonly string[]).includes(String(v))) throw new UsageError(`--test-suite must be one of ${SUITES.join(', ')} or none, got '${v}'`);
    c.testSuite = v === 'none' ? null : String(v);
  },
  'extra-attacks': (c, v) => { c.extraAttacks = String(v) === '' ? [] : splitTokensOrUsage(String(v)); },
  'test-n': (c, v) => { c.testN = intFlag('test-n', String(v), { min: 1 })!; },
  'test-steps': (c, v) => { c.testSteps = intFlag('test-steps', String(v), { min: 1 })!; },
  'curve-n': (c, v) => { c.curveN = intFlag('curve-n', String(v), { min: 0 })!; },
  'checkpoint-every': (c, v) => { c.checkpointEvery = intFlag('checkpoint-every', String(v), { min: 0 })!; },
};

/** The configuration from the defaults (or a saved run) and the flags given. */
export function configFromFlags(values: Values, base: RunConfig = D): RunConfig {
  const c: RunConfig = structuredClone(base);
  for (const [flag, set] of Object.entries(SETTERS)) if (values[flag] !== undefined) set(c, values[flag]!);
  try {
    checkConfig(c);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message);
  }
  return c;
}

function checkWritableDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new UsageError(`--out ${dir}: cannot write there (${(err as Error).message.split('\n')[0]})`);
  }
}

const list = (a: string[]) => a.join(',');

/** Deletes the files of a run in `dir` (only the names a run writes), for --replace. */
function removeRun(dir: string): void {
  const paths = runPaths(dir);
  for (const [key, path] of Object.entries(paths)) if (key !== 'dir' && existsSync(path)) rmSync(path);
}

export const trainCommand = {
  summary: 'adversarial training for multiple perturbations: strategies, resume, held-out evaluation, report and plots in a run directory',
  usage: 'multirobust train [--strategy max] [--attacks linf:0.3,l2:2,l1:10] [--epochs 10] [--out runs/NAME] | --resume runs/NAME',
  options: {
    strategy: { type: 'string' },
    attacks: { type: 'string' },
    affine: { type: 'boolean' },
    'attack-steps': { type: 'string' },
    'no-start-small': { type: 'boolean' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    schedule: { type: 'string' },
    'lr-drop': { type: 'string' },
    seed: { type: 'string' },
    threads: { type: 'string' },
    model: { type: 'string' },
    widths: { type: 'string' },
    'train-n': { type: 'string' },
    'val-n': { type: 'string' },
    'eval-every': { type: 'string' },
    'eval-steps': { type: 'string' },
    'test-attacks': { type: 'string' },
    'test-suite': { type: 'string' },
    'extra-attacks': { type: 'string' },
    'test-n': { type: 'string' },
    'test-steps': { type: 'string' },
    'curve-n': { type: 'string' },
    'checkpoint-every': { type: 'string' },
    out: { type: 'string' },
    resume: { type: 'string' },
    'log-every': { type: 'string' },
    replace: { type: 'boolean' },
  },
  descriptions: {
    strategy: `${STRATEGIES.join(' | ')}: none = standard training; single = one attack; avg = all attacks' batches concatenated; max = per example the highest-loss attack; alternate = attacks in turn per batch; msd = multi steepest descent; sampled = one attack per batch, drawn ∝ 1 − its running robust accuracy (default ${D.strategy})`,
    attacks: `training attack tokens, as for multirobust eval: linf:EPS l2:EPS l1:EPS (SLIDE) l1apgd:EPS rtrandom:PX:DEG rtpgd:PX:DEG …, options after a token, e.g. linf:0.3:steps=5 (default ${list(D.attacks)})`,
    affine: 'also train against the affine mix of the first two attacks, affine(A+B) (default off)',
    'attack-steps': `steps of a training attack whose token does not set them (default ${D.attackSteps})`,
    'no-start-small': 'train against the full budgets from the first epoch (default: ε/3 during the first epoch)',
    epochs: `epochs (default ${D.epochs})`,
    batch: `batch size (default ${D.batch})`,
    lr: `Adam learning rate (default ${D.lr})`,
    schedule: `${SCHEDULES.join(' | ')}: step = ÷10 at --lr-drop; triangular = 0 → lr → 0 (each step at its midpoint, none at lr 0); cosine = lr → 0 (default ${D.schedule})`,
    'lr-drop': 'step (≥ 1) of the ÷10 drop of --schedule step; refused with another schedule (default: 3/4 of all steps)',
    seed: `seed of every random choice: initialisation, shuffling, attack starts, sampling (default ${D.seed})`,
    threads: 'kernel threads (default: MULTIROBUST_THREADS, else all cores within the container\'s CPU quota; a resume: the run\'s own); the same seed, thread count and build give the same bits, so config.json records them and a resume with others is refused',
    model: 'architecture: mnist-cnn, the paper\'s CNN, or an ONNX model (FILE.onnx) to fine-tune from its weights; its run saves safetensors with the initializers\' names, which eval --model FILE.onnx --checkpoint loads (default mnist-cnn)',
    widths: 'mnist-cnn widths C1,C2,HIDDEN (default 32,64,1024)',
    'train-n': 'train on the first N training images (default: all but the held-out slice)',
    'val-n': `held-out slice: the last N training images, never trained on (default ${D.valN})`,
    'eval-every': `evaluate the union on the held-out slice every N epochs and after the last; keeps best-union.safetensors (default ${D.evalEvery})`,
    'eval-steps': `steps of the held-out evaluation's attacks (default ${D.evalSteps})`,
    'test-attacks': `final evaluation's threat models (with a suite) or attack tokens (--test-suite none), whose union is reported (default ${list(D.testAttacks)})`,
    'test-suite': `final evaluation's suite (${SUITES.join(', ')}) over the --test-attacks threat models, or none: the --test-attacks tokens with --test-steps steps (default ${D.testSuite})`,
    'extra-attacks': 'also evaluated on the test set, outside the union, e.g. rt:3:30 (default none)',
    'test-n': `final evaluation on the first N test images (default ${D.testN})`,
    'test-steps': `steps of the final evaluation's attack tokens with --test-suite none, and of the ε-curves (default ${D.testSteps})`,
    'curve-n': `accuracy-vs-ε curves (eps.svg) on the first N test images; 0 = none (default ${D.curveN})`,
    'checkpoint-every': `save the training state every N steps as well as after every epoch; 0 = per epoch (default ${D.checkpointEvery})`,
    out: 'run directory (default runs/train); must not hold another run',
    resume: 'continue the run in this directory (its config.json); flags given, the thread count and the build must match it',
    'log-every': 'plain progress line every N steps when stderr is not a terminal (default 50)',
    replace: 'start over if --out holds a run: its files (config, state, models, log, report, plots) are deleted first; not with --resume (default off)',
  },
  async run(values: Values) {
    const threads = intFlag('threads', values.threads as string | undefined, { min: 1 });
    const logEvery = intFlag('log-every', (values['log-every'] as string | undefined) ?? '50', { min: 0 })!;
    if (values.resume !== undefined && values.replace === true) throw new UsageError('--replace starts a new run and --resume continues one: give one of them');
    const resume = values.resume !== undefined;
    const { dir, config } = resume ? resumedConfig(values) : newConfig(values);
    // A resume runs on the engine the run was trained on unless a flag or the environment says otherwise (then refused below).
    const saved = resume ? config.engine : undefined;
    const engine = await loadEngine({
      threads: threads ?? (process.env.MULTIROBUST_THREADS ? undefined : saved?.threads),
      build: process.env.MULTIROBUST_BUILD || (saved?.build === 'relaxed' && !(await supportsRelaxed())) ? undefined : saved?.build,
      kernels: process.env.MULTIROBUST_KERNELS ? undefined : saved?.kernels,
    });
    try {
      const paths = runPaths(dir);
      if (resume) {
        const mismatch = saved ? engineMismatch(saved, engine) : null;
        if (mismatch) throw new UsageError(`--resume ${dir}: ${mismatch}`);
        if (!saved) process.stderr.write(`multirobust train: warning: --resume ${dir}: config.json records no thread count or build (a run from an earlier version); resuming with ${engine.threads} thread${engine.threads === 1 ? '' : 's'}, the ${engine.build} build: the bits match an uninterrupted run only if it was trained with these\n`);
        checkState(engine, config, paths.state);
        checkWritableDir(dir);
      } else {
        checkModel(engine, config);
        checkWritableDir(dir);
        if (values.replace === true) removeRun(dir);
        config.engine = runEngine(engine);
        writeFileAtomic(paths.config, `${JSON.stringify(config, null, 2)}\n`);
      }
      await runTraining(engine, config, paths, { out: (s) => console.log(s), err: process.stderr, logEvery });
    } finally {
      await engine.close();
    }
  },
};

/** A new run's directory and configuration (the flags over the defaults); a directory holding a run is refused unless --replace. */
function newConfig(values: Values): { dir: string; config: RunConfig } {
  const dir = String(values.out ?? 'runs/train');
  const config = configFromFlags(values);
  if (values.replace !== true && existsSync(runPaths(dir).config)) throw new UsageError(`--out ${dir} already holds a run: continue it with --resume ${dir}, or choose another directory`);
  return { dir, config };
}

/** The saved run's directory and configuration; flags given must agree with it. */
function resumedConfig(values: Values): { dir: string; config: RunConfig } {
  const dir = String(values.resume);
  if (values.out !== undefined && values.out !== dir) throw new UsageError(`--out ${values.out} and --resume ${dir} name different directories`);
  const paths = runPaths(dir);
  if (!existsSync(paths.config)) throw new UsageError(`--resume ${dir}: no run there (no config.json)`);
  let saved: RunConfig;
  try {
    saved = { ...D, ...JSON.parse(readFileSync(paths.config, 'utf8')) };
  } catch (err) {
    throw new UsageError(`--resume ${dir}: config.json is not valid JSON (${(err as Error).message})`);
  }
  const config = configFromFlags(values, saved);
  const before = configFromFlags({}, saved);
  for (const key of Object.keys(config) as (keyof RunConfig)[]) {
    if (JSON.stringify(config[key]) !== JSON.stringify(before[key])) throw new UsageError(`--resume ${dir}: ${key} is ${JSON.stringify(config[key])} here but ${JSON.stringify(before[key])} in the saved run (a different configuration)`);
  }
  return { dir, config };
}

/** An ONNX model that does not fit MNIST training is bad input, found before the run directory is written. */
function checkModel(engine: Engine, config: RunConfig): void {
  const make = modelFactory(engine, config);
  if (!make) return;
  try {
    make().dispose();
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
}

/**
 * A damaged or foreign training state is bad input: it is loaded into a throwaway model first, so
 * it is refused (exit 2) before anything in the run directory changes.
 */
function checkState(engine: Engine, config: RunConfig, path: string): void {
  if (!existsSync(path)) return;
  const model = config.model.endsWith('.onnx') ? importOnnx(engine, readFileSync(config.model), config.model) : mnistCnn(engine, 0, config.widths);
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  try {
    loadTrainingState(path, model, opt);
  } catch (err) {
    throw new UsageError(`--resume: ${path}: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    opt.dispose();
    model.dispose();
  }
}
