// `npm run experiment:mnist` (`multirobust experiment mnist`): the paper's MNIST tables (Tramèr & Boneh 2019; ../shared/spec/paper.md
// §1.3–§1.6, §2.2) re-run with the `standard` evaluation (issue 27).
//
// For each model (MODELS; --models picks rows), three resumable stages, each a `multirobust`
// command run as a child process so that the command a result records is the command that made it:
//   1. train      `multirobust train …` into DIR/NAME/run (a run directory: a kill resumes it with
//                 --resume; same seed and threads ⇒ same bits). The reference's configuration:
//                 Adam 1e-3 → 1e-4 at half the steps, batch 100, start-small (ε/3 in epoch 0),
//                 10-step training attacks with the reference's step sizes (TRAIN_TOKENS).
//   2. standard   `multirobust eval --suite standard --threats …` on the first evalN test images
//                 (its state file resumes a killed evaluation).
//   3. gradient-free (models with L1 / L2 threats): the reference's decision-based attacks at the
//                 reference's budgets (Pointwise for L1, Boundary for L2) on the points of the first
//                 gfN test images that the standard suite left standing in that threat model (a
//                 cascade, as AutoAttack runs its attacks), via a small safetensors data file.
// Each finished model gets RESULTS/BUDGET/NAME.json (commands, seed, threads, commit, budget, wall
// times, training cost, every attack's figure with its 95 % interval), and RESULTS/README.md, the
// tables beside the paper's recollected figures and MSD's, is regenerated from every JSON there.
//
//   npm run experiment:mnist -- [--models linf,l1,…|all] [--budget paper|reduced|smoke]
//     [--dir ~/.cache/multirobust/mnist] [--results runs/results/mnist] [--threads N] [--table-only]
//
// The command (flags, help, printing): src/cli/experiments/mnist.ts; `--results docs/results/mnist`
// writes the documentation's tables.
//
// Budgets: paper (10 epochs of 59,000 images = 5,900 steps of 100, ≈ the reference's 6,000;
// standard suite on 1,000 test images; gradient-free on the first 100), reduced (3 epochs, the same
// evaluation; marked in every table), smoke (tiny, for the tests: 300 images, quick suite on 20).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../io/atomic.ts';
import { writeSafetensors } from '../io/safetensors.ts';
import { isGradientFree, type EvalReport, type Interval } from '../eval/report.ts';
import { loadMnist } from '../train/data.ts';
import { formatDuration } from '../train/progress.ts';
import type { Strategy } from '../train/strategies.ts';
import { figure, MODELS, TABLE_THREATS, type Figure, type MnistModel, type Table } from './mnist_models.ts';

/** The reference's gradient-free attacks at its budgets (paper.md §1.6), per threat model. */
export const GRADIENT_FREE: Record<string, string> = { L1: 'pointwise:10:budget=reference', L2: 'boundary:2:budget=reference' };

export interface Budget {
  name: string;
  /** Training epochs over trainN images (null: all 59,000 outside the held-out 1,000). */
  epochs: number;
  trainN: number | null;
  valN: number;
  suite: 'standard' | 'quick';
  /** Test images of the suite; of the gradient-free attacks (the first gfN, cascaded). */
  evalN: number;
  gfN: number;
  /** Gradient-free tokens' budget: the reference's, or the attacks' defaults (smoke). */
  gfReference: boolean;
  note: string;
}

export const BUDGETS: Record<string, Budget> = {
  paper: { name: 'paper', epochs: 10, trainN: null, valN: 1000, suite: 'standard', evalN: 1000, gfN: 100, gfReference: true, note: "the reference's: 10 epochs of 59,000 images (5,900 steps of 100; the reference: 6,000 of 55,000)" },
  reduced: { name: 'reduced', epochs: 3, trainN: null, valN: 1000, suite: 'standard', evalN: 1000, gfN: 100, gfReference: true, note: 'reduced: 3 epochs of 59,000 images (1,770 steps of 100), 30 % of the reference\'s' },
  smoke: { name: 'smoke', epochs: 1, trainN: 300, valN: 100, suite: 'quick', evalN: 20, gfN: 10, gfReference: false, note: 'smoke test: 1 epoch of 300 images, quick suite on 20 test images' },
};

const BATCH = 100;
const SEED = 0;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The built `multirobust` command every stage runs (npm run build makes it). */
export const BIN = join(ROOT, 'dist', 'cli', 'bin.js');

/** Training images per epoch: trainN, or all 60,000 but the held-out slice. */
const trainImages = (b: Budget) => b.trainN ?? 60000 - b.valN;

/** `multirobust train` arguments of a model under a budget. */
export function trainArgs(m: MnistModel, b: Budget, out: string): string[] {
  const stepsPerEpoch = Math.ceil(trainImages(b) / BATCH);
  const tokens = m.attacks.length ? m.attacks : ['linf:0.3:steps=10'];
  return [
    'train', '--strategy', m.strategy, '--attacks', m.attacks.join(','), '--epochs', String(b.epochs), '--batch', String(BATCH),
    '--lr', '1e-3', '--schedule', 'step', '--lr-drop', String(Math.floor((b.epochs * stepsPerEpoch) / 2)), '--seed', String(SEED),
    '--val-n', String(b.valN), ...(b.trainN ? ['--train-n', String(b.trainN)] : []), '--eval-every', String(b.epochs),
    // The run's own test evaluation is a sanity check (its training attacks on 200 images); the table's is stage 2.
    '--test-suite', 'none', '--test-attacks', tokens.join(','), '--test-n', String(Math.min(200, b.evalN)), '--curve-n', '0',
    '--out', out,
  ];
}

/** `multirobust eval` arguments of the standard (or quick, smoke) suite. */
export function evalArgs(m: MnistModel, b: Budget, checkpoint: string, out: string): string[] {
  const threats = [...new Set(m.tables.flatMap((t) => TABLE_THREATS[t]))];
  return ['eval', '--checkpoint', checkpoint, '--suite', b.suite, '--threats', threats.join(','), '--n', String(b.evalN), '--batch', '250', '--seed', String(SEED), '--out', out];
}

function gfToken(threat: string, b: Budget): string {
  return b.gfReference ? GRADIENT_FREE[threat] : GRADIENT_FREE[threat].replace(':budget=reference', '');
}

/** A command as a user types it: the home directory as ~, arguments quoted where the shell needs it. */
function display(args: string[]): string {
  const home = homedir();
  const shown = args.map((a) => (a.startsWith(`${home}/`) ? `~${a.slice(home.length)}` : a));
  return `multirobust ${shown.map((a) => (/^[\w.,:=/~+-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`;
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export interface Io {
  threads: number;
  log: (s: string) => void;
  /** stdio of the child commands: 'inherit' (progress on this terminal) or 'ignore'. */
  stdio: 'inherit' | 'ignore';
}

/**
 * Runs `multirobust ARGS` (dist/cli/bin.js) and resolves to its wall time; a failure rejects.
 * Asynchronous: the stages run for hours, and a caller (a test worker, a service) keeps its event loop.
 */
function runCli(args: string[], io: Io): Promise<number> {
  const full = [...args, '--threads', String(io.threads)];
  io.log(`$ ${display(full)}`);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...full], { stdio: ['ignore', io.stdio, io.stdio] });
    child.on('error', reject);
    child.on('close', (status, signal) => {
      const seconds = (performance.now() - t0) / 1000;
      if (status === 0) resolve(seconds);
      else reject(Object.assign(new Error(`${display(full)} failed (exit ${status ?? signal})`), { seconds }));
    });
  });
}

/** Runs a stage's command and adds its wall time to timing[key] (also when it fails, then rethrows). */
async function timed(timing: Timing, key: string, save: () => void, args: string[], io: Io): Promise<void> {
  try {
    timing[key] = (timing[key] ?? 0) + await runCli(args, io);
  } catch (err) {
    timing[key] = (timing[key] ?? 0) + ((err as { seconds?: number }).seconds ?? 0);
    throw err;
  } finally {
    save();
  }
}

/** A model's working files under the budget's directory. */
export function modelPaths(dir: string, m: MnistModel) {
  const base = join(dir, m.name);
  return { base, run: join(base, 'run'), standard: join(base, 'standard.json'), timing: join(base, 'timing.json'), gf: (threat: string) => join(base, `gf-${threat}`) };
}

type Timing = Record<string, number>;
const readJson = <X>(path: string): X => JSON.parse(readFileSync(path, 'utf8')) as X;

/** Per-threat correctness of the suite's report: all attacks of the threat (and the clean input) correct. */
function threatCorrect(r: EvalReport, threat: string, firstOrderOnly = false): Uint8Array {
  const out = Uint8Array.from(r.per_example!.clean);
  for (const a of r.attacks) {
    if (a.threat !== threat || (firstOrderOnly && isGradientFree(a.name))) continue;
    r.per_example!.attacks[a.name].forEach((v, i) => { out[i] &= v; });
  }
  return out;
}

function count(a: ArrayLike<number>): number {
  let k = 0;
  for (let i = 0; i < a.length; i++) k += a[i];
  return k;
}

export interface GradientFreeResult {
  threat: string;
  attack: string;
  /** The first n test images; `attacked` of them stood after the standard suite. */
  n: number;
  attacked: number;
  broke: number;
  /** The threat model's accuracy on the first n: after the suite's first-order attacks, after all its attacks, and with the gradient-free attack added. */
  firstOrder: Figure;
  suite: Figure;
  withGradientFree: Figure;
  command: string;
  seconds: number;
}

/** Stage 3 for one threat model: the gradient-free attack on the points the suite left standing. */
async function gradientFree(m: MnistModel, b: Budget, p: ReturnType<typeof modelPaths>, report: EvalReport, threat: string, checkpoint: string, io: Io, timing: Timing): Promise<GradientFreeResult> {
  const n = Math.min(b.gfN, report.n);
  const standing = threatCorrect(report, threat).subarray(0, n);
  const idx = [...standing.keys()].filter((i) => standing[i]);
  const base = p.gf(threat);
  const token = gfToken(threat, b);
  const args = ['eval', '--checkpoint', checkpoint, '--attacks', token, '--data', `${base}-data.safetensors`, '--n', 'all', '--seed', String(SEED), '--out', `${base}.json`];
  let broken = new Uint8Array(idx.length);
  if (idx.length) {
    if (!existsSync(`${base}.json`)) {
      const test = loadMnist('test');
      const D = test.height * test.width;
      const images = new Float32Array(idx.length * D), labels = new Int32Array(idx.length);
      idx.forEach((i, j) => { images.set(test.images.subarray(i * D, (i + 1) * D), j * D); labels[j] = test.labels[i]; });
      writeSafetensors(`${base}-data.safetensors`, { images: { shape: [idx.length, test.height, test.width, 1], data: images }, labels: { shape: [idx.length], data: labels } }, { indices: JSON.stringify(idx) });
      await timed(timing, `gf-${threat}`, () => writeFileAtomic(p.timing, `${JSON.stringify(timing, null, 2)}\n`), args, io);
    }
    const r = readJson<EvalReport>(`${base}.json`);
    broken = Uint8Array.from(r.per_example!.attacks[r.attacks[0].name], (v) => 1 - v);
  }
  const kept = idx.length - count(broken);
  return {
    threat, attack: token, n, attacked: idx.length, broke: idx.length - kept, firstOrder: figure(count(threatCorrect(report, threat, true).subarray(0, n)), n), suite: figure(idx.length, n), withGradientFree: figure(kept, n),
    command: display([...args, '--threads', String(io.threads)]), seconds: timing[`gf-${threat}`] ?? 0,
  };
}

/** Training cost from the run's log: steps, images, input-gradient evaluations and forwards of the attacks, seconds. */
function trainingCost(runDir: string, b: Budget): Record<string, number> {
  const records = readFileSync(join(runDir, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const epochs = records.filter((r) => r.type === 'step' && r.epochEnd);
  const steps = Number(epochs.at(-1)?.step ?? 0);
  const images = trainImages(b);
  let gradEvals = 0, forwards = 0, seconds = 0;
  for (const e of epochs) {
    gradEvals += Number(e.gradEvalsPerImage ?? 0) * images;
    forwards += Number(e.forwardsPerImage ?? 0) * images;
    seconds += Number(e.seconds ?? 0);
  }
  // Plus one forward and backward per training row for the parameter update (avg trains on K·B rows).
  return { steps, images: steps * BATCH, attackGradEvals: Math.round(gradEvals), attackForwards: Math.round(forwards), trainSeconds: +seconds.toFixed(1) };
}

export interface MnistResult {
  model: string;
  label: string;
  tables: Table[];
  strategy: Strategy;
  trainAttacks: string[];
  budget: string;
  budgetNote: string;
  seed: number;
  threads: number;
  commit: string;
  date: string;
  commands: { experiment: string; train: string; eval: string };
  seconds: Record<string, number>;
  training: Record<string, number>;
  suite: string;
  n: number;
  clean: Figure;
  threats: Record<string, Figure>;
  /** The union per table (the table's threat models). */
  unions: Partial<Record<Table, Figure>>;
  attacks: { name: string; threat: string; accuracy: number; interval: Interval; attacked: number; broke: number; seconds: number }[];
  checks: EvalReport['checks'];
  gradientFree: GradientFreeResult[];
}

/** Runs (or resumes) every stage of one model and writes its result JSON. */
export async function runModel(m: MnistModel, b: Budget, dir: string, results: string, io: Io): Promise<MnistResult> {
  const p = modelPaths(dir, m);
  mkdirSync(p.base, { recursive: true });
  const timing: Timing = existsSync(p.timing) ? readJson<Timing>(p.timing) : {};
  const saveTiming = () => writeFileAtomic(p.timing, `${JSON.stringify(timing, null, 2)}\n`);
  const train = trainArgs(m, b, p.run);
  if (!existsSync(join(p.run, 'report.json'))) {
    io.log(`[${m.name}] training (${b.name} budget)`);
    const args = existsSync(join(p.run, 'config.json')) ? ['train', '--resume', p.run] : train;
    await timed(timing, 'train', saveTiming, args, io);
  }
  const checkpoint = join(p.run, 'last.safetensors');
  const ev = evalArgs(m, b, checkpoint, p.standard);
  if (!existsSync(p.standard)) {
    io.log(`[${m.name}] ${b.suite} suite on ${b.evalN} test images`);
    await timed(timing, 'eval', saveTiming, ev, io);
  }
  const report = readJson<EvalReport>(p.standard);
  const gf: GradientFreeResult[] = [];
  for (const threat of Object.keys(GRADIENT_FREE)) {
    if (!(threat in report.threat_models)) continue;
    io.log(`[${m.name}] ${gfToken(threat, b)} on the first ${Math.min(b.gfN, report.n)} test images' points the suite left standing`);
    gf.push(await gradientFree(m, b, p, report, threat, checkpoint, io, timing));
  }
  const clean = count(report.per_example!.clean);
  const threats: Record<string, Figure> = {};
  const perThreat: Record<string, Uint8Array> = {};
  for (const t of Object.keys(report.threat_models)) {
    perThreat[t] = threatCorrect(report, t);
    threats[t] = figure(count(perThreat[t]), report.n);
  }
  const unions: MnistResult['unions'] = {};
  for (const table of m.tables) {
    const names = TABLE_THREATS[table].map(threatName);
    const all = Uint8Array.from(report.per_example!.clean, (v, i) => v & (names.every((t) => perThreat[t][i]) ? 1 : 0));
    unions[table] = figure(count(all), report.n);
  }
  const result: MnistResult = {
    model: m.name, label: m.label, tables: m.tables, strategy: m.strategy, trainAttacks: m.attacks, budget: b.name, budgetNote: b.note,
    seed: SEED, threads: io.threads, commit: commit(), date: new Date().toISOString(),
    commands: {
      experiment: `npm run experiment:mnist -- --models ${m.name} --budget ${b.name} --threads ${io.threads}`,
      train: display([...train, '--threads', String(io.threads)]), eval: display([...ev, '--threads', String(io.threads)]),
    },
    seconds: timing, training: trainingCost(p.run, b), suite: b.suite, n: report.n, clean: figure(clean, report.n), threats, unions,
    attacks: report.attacks.map((a) => ({ name: a.name, threat: a.threat, accuracy: a.robust_accuracy, interval: a.interval, attacked: a.attacked ?? report.n, broke: a.broke ?? 0, seconds: a.time_s })),
    checks: report.checks, gradientFree: gf,
  };
  mkdirSync(join(results, b.name), { recursive: true });
  writeFileAtomic(join(results, b.name, `${m.name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** 'linf:0.3' → 'Linf', 'rt' → 'RT' (the report's threat names). */
export function threatName(token: string): string {
  const kind = token.split(':')[0];
  return kind === 'rt' ? 'RT' : kind === 'linf' ? 'Linf' : kind.toUpperCase();
}

// ---- tables ------------------------------------------------------------------------------------

/** The paper's MNIST tables as paper.md §2.2 recalls them: UNVERIFIED, shown as such. */
export const PAPER_RECOLLECTION: Record<Table, Record<string, number[]>> = {
  // Acc, L∞, L1, L2, 1 − R_avg, 1 − R_max
  lp: { nat: [99.4, 0.0, 12.4, 8.5, 7.0, 0.0], linf: [99.1, 91.1, 12.1, 11.3, 38.2, 6.8], l1: [98.9, 0.0, 78.5, 50.6, 43.0, 0.0], l2: [98.5, 0.4, 68.0, 71.8, 46.7, 0.4], avg: [97.3, 76.7, 53.9, 58.3, 63.0, 49.9], max: [97.2, 71.7, 62.6, 56.0, 63.4, 52.4] },
  // Acc, L∞, RT, 1 − R_avg, 1 − R_max
  rt: { nat: [99.4, 0.0, 0.0, 0.0, 0.0], linf: [99.1, 91.1, 0.2, 45.7, 0.2], rt: [99.3, 0.0, 94.6, 47.3, 0.0], 'rt-avg': [99.2, 88.2, 86.4, 87.3, 82.9], 'rt-max': [98.9, 89.6, 85.6, 87.6, 83.8] },
};

/** MSD's README (locuslab/robust_union, paper.md §4.1, §6.3): clean, L∞, L2, L1, all attacks. */
export const MSD_README: Record<string, number[]> = { 'MSD': [98.3, 62.7, 67.9, 65.0, 58.4], 'Worst-PGD (MAX)': [98.6, 51.0, 61.9, 52.6, 42.1], 'PGD Aug (AVG)': [99.1, 65.2, 60.1, 39.2, 34.9] };

/** A figure as '97.3 [96.1, 98.1]' (percent, 95 % interval); '–' when missing. */
export const pc = (f: Figure | undefined) => (f ? `${(100 * f.accuracy).toFixed(1)} [${(100 * f.interval[0]).toFixed(1)}, ${(100 * f.interval[1]).toFixed(1)}]` : '–');
const p1 = (v: number) => v.toFixed(1);
const mega = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(1)} M` : `${Math.round(v / 1e3)} k`);

/** Every result JSON under `results` (budget subdirectories), in MODELS order. */
export function readResults(results: string): MnistResult[] {
  if (!existsSync(results)) return [];
  const out: MnistResult[] = [];
  for (const budget of readdirSync(results).sort()) {
    const d = join(results, budget);
    if (!statSync(d).isDirectory()) continue;
    for (const f of readdirSync(d).filter((x) => x.endsWith('.json'))) out.push(readJson<MnistResult>(join(d, f)));
  }
  const order = (r: MnistResult) => MODELS.findIndex((m) => m.name === r.model);
  return out.sort((a, b) => a.budget.localeCompare(b.budget) || order(a) - order(b));
}

/**
 * The Markdown page of every result: one table per (table, budget), the gradient-free cascade, the
 * references, and per budget the thresholding measures of experiment:masking (`masking`: budget →
 * its masking-BUDGET.md, when written).
 */
export function resultsMarkdown(rs: MnistResult[], masking: Record<string, string> = {}): string {
  const L: string[] = [
    '# The paper\'s MNIST tables under the standard evaluation',
    '',
    'Generated by `npm run experiment:mnist` (src/experiments/mnist.ts) from the JSON files beside this page; do not edit by hand.',
    'Each row: `multirobust train` with the reference\'s configuration (Adam 1e-3 → 1e-4 at half, batch 100, start-small, 10-step training attacks with the reference\'s step sizes; paper.md §1.3), then `multirobust eval --suite standard` (APGD-CE, APGD-T, Square 5,000 queries per threat model; RT: RT PGD and the 775-transform grid) on the first `n` MNIST test images. Accuracies in %, with 95 % Wilson intervals. Each JSON holds the commands that re-make its row (same seed and threads ⇒ same bits), the commit, the wall times and the training cost.',
    '',
  ];
  const budgets = [...new Set(rs.map((r) => r.budget))];
  for (const table of ['lp', 'rt'] as Table[]) {
    const cols = TABLE_THREATS[table].map(threatName);
    for (const budget of budgets) {
      const rows = rs.filter((r) => r.budget === budget && r.tables.includes(table));
      if (!rows.length) continue;
      L.push(`## ${table === 'lp' ? 'L∞ 0.3, L2 2, L1 10' : 'L∞ 0.3 and rotation-translation (±3 px, ±30°)'}: ${budget} budget`, '', `Budget: ${rows[0].budgetNote}. Suite: ${rows[0].suite}, first ${rows[0].n} test images.`, '');
      L.push(`| model | clean | ${cols.join(' | ')} | union | training: attack gradients (forwards) | time (train + eval) |`, `|---|---|${cols.map(() => '---|').join('')}---|---|---|`);
      for (const r of rows) {
        const cost = `${mega(r.training.attackGradEvals)} (${mega(r.training.attackForwards)})`;
        const evalSeconds = Object.entries(r.seconds).filter(([k]) => k !== 'train').reduce((s, [, v]) => s + v, 0);
        // The run's own epoch times cover training even where a stage's wall time was lost (a crash before this fix).
        const time = `${formatDuration(Math.max(r.seconds.train ?? 0, r.training.trainSeconds ?? 0))} + ${formatDuration(evalSeconds)}`;
        L.push(`| ${r.label} | ${pc(r.clean)} | ${cols.map((c) => pc(r.threats[c])).join(' | ')} | ${pc(r.unions[table])} | ${cost} | ${time} |`);
      }
      L.push('');
    }
    const paper = PAPER_RECOLLECTION[table];
    const heads = table === 'lp' ? ['clean', 'L∞', 'L1', 'L2', '1 − R_avg', 'union (1 − R_max)'] : ['clean', 'L∞', 'RT', '1 − R_avg', 'union (1 − R_max)'];
    L.push(`The paper's figures for this table, **as recalled in ../shared/spec/paper.md §2.2: UNVERIFIED** (first-order attacks with 40 restarts, plus Pointwise/Boundary/EAD/CW for L1/L2, on 200 test images; paper.md §1.6):`, '');
    L.push(`| model | ${heads.join(' | ')} |`, `|---|${heads.map(() => '---|').join('')}`);
    for (const [name, v] of Object.entries(paper)) L.push(`| ${MODELS.find((m) => m.name === name)!.label} | ${v.map(p1).join(' | ')} |`);
    L.push('');
  }
  L.push('MSD\'s README (locuslab/robust_union; paper.md §4.1, §6.3: 15 epochs of 100-step MSD; the minimum over ~15 attacks with 10 restarts on the first 1,000 test images):', '');
  L.push('| model | clean | L∞ | L2 | L1 | all attacks |', '|---|---|---|---|---|---|');
  for (const [name, v] of Object.entries(MSD_README)) L.push(`| ${name} | ${v.map(p1).join(' | ')} |`);
  L.push('');
  const gf = rs.filter((r) => r.gradientFree.length);
  if (gf.length) {
    L.push('## First-order vs gradient-free attacks (the masking finding)', '');
    L.push('Per model and threat model, on the first test images: accuracy after the standard suite\'s first-order attacks (APGD-CE, APGD-T), after its score-based Square as well, and after the reference\'s decision-based attack as well (Pointwise for L1, Boundary for L2, at the reference\'s budgets, on the points the suite left standing). A gradient-free attack breaking points that every first-order attack left standing is the signature of gradient masking.', '');
    L.push('| model | budget | threat | n | first-order | + Square | + decision-based | decision-based broke |', '|---|---|---|---|---|---|---|---|');
    for (const r of gf) {
      for (const g of r.gradientFree) {
        L.push(`| ${r.label} | ${r.budget} | ${g.threat} | ${g.n} | ${pc(g.firstOrder)} | ${pc(g.suite)} | ${pc(g.withGradientFree)} | ${g.broke} of ${g.attacked} (${g.attack}) |`);
      }
    }
    L.push('');
  }
  for (const [budget, md] of Object.entries(masking)) {
    L.push(`## Thresholding, measured: ${budget} budget`, '', 'From `npm run experiment:masking -- --budget ' + budget + '` (src/experiments/masking.ts; its header defines each column), on the first test images:', '', md.trim(), '');
  }
  return `${L.join('\n')}\n`;
}

/** experiment:masking's tables in `results` (masking-BUDGET.md), by budget. */
export function readMasking(results: string): Record<string, string> {
  if (!existsSync(results)) return {};
  const out: Record<string, string> = {};
  for (const f of readdirSync(results).sort()) {
    const m = /^masking-(\w+)\.md$/.exec(f);
    if (m && m[1] in BUDGETS) out[m[1]] = readFileSync(join(results, f), 'utf8');
  }
  return out;
}
