// A training run's directory and configuration (src/train/run.ts runs it, src/cli/train.ts checks
// the flags): RunConfig, saved as config.json with the engine the run trains on (threads, build,
// kernels: the training bits depend on them, so a resume must use the same); the file names of a
// run; its log.jsonl records; and the model a configuration names (the paper's CNN or an ONNX graph).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAttacks } from '../attacks/parse.ts';
import { suiteTokens } from '../eval/suites.ts';
import type { MnistCnnWidths } from '../nn/models.ts';
import type { Module } from '../nn/module.ts';
import { importOnnx } from '../onnx/import.ts';
import type { Engine } from '../wasm/engine.ts';
import type { BuildName, KernelIsa } from '../wasm/load.ts';
import { heldOutAttacks } from './held_out.ts';
import type { Strategy } from './strategies.ts';
import { trainingAttacks, type ScheduleName } from './train.ts';

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
    // MNIST's 60,000 training images, less the held-out slice (held_out.ts splitData).
    const fitN = Math.min(60000 - c.valN, c.trainN ?? Infinity);
    const totalSteps = c.epochs * Math.ceil(fitN / c.batch);
    if (c.lrDrop > totalSteps) throw new RangeError(`--lr-drop ${c.lrDrop} is after the run's last step (${totalSteps}): the rate would never drop`);
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

/** One line of log.jsonl: a logged step, a held-out evaluation, or the final evaluation. */
export type LogRecord = { type: 'step' | 'eval' | 'final'; step: number; [k: string]: unknown };

/** The records of log.jsonl (none when it does not exist). */
export function readLog(path: string): LogRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as LogRecord);
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
