// The page's engine thread (a dedicated module Worker started by src/serve/page.ts). The engine
// lives here, not on the page's main thread, because its pool blocks in Atomics.wait, which a
// page's main thread may not do; its own workers are started from here (src/wasm/pool.ts).
// Messages in: { id, op, …args }; out: { id, ok: true, …result } or { id, ok: false, error }, and
// { op: 'log', line } progress lines. Operations:
// A checkpoint is a .safetensors file of the paper's CNN or an .onnx model (src/onnx/import.ts).
//   eval      { checkpoint, attacks?, suite?, threats?, n, seed, threads?, batch?, steps?, restarts?, cascade? }
//             → { report }: exactly what `multirobust eval --out` writes for the same arguments
//   selftest  { threads?, n? } → { results, threads, build } (src/serve/selftest.ts)
//   digits    { n } → { images (n·784 floats), labels }: the first n test images
//   attack    { model: 'checkpoint'|'trained', checkpoint?, index, token, seed? } → the test image
//             `index`, its adversarial example under `token` (src/attacks/parse.ts), both images'
//             class probabilities, the perturbation's norms and whether the attack succeeded
//   train     { epochs, trainN, steps, seed?, threads? } → a short `sampled` run over L∞ 0.3, L2 2,
//             L1 10 on the first trainN training images, posting { op: 'progress', … } per step;
//             → { testAccuracy, seconds, safetensors } and the model kept as 'trained'
//   bench     { threads?, batch? } → images/s of the forward pass, the input gradient and a training step
// Data: the MNIST test set from /data/mnist/, checkpoints from /checkpoint?path= (src/serve/server.ts).
import { evaluate } from '../eval/evaluate.ts';
import { DEFAULT_THREATS } from '../eval/suites.ts';
import { splitTokens } from '../attacks/parse.ts';
import { parseSafetensors } from '../io/safetensors.ts';
import { loadTorchStateDict } from '../nn/checkpoint.ts';
import { mnistCnn } from '../nn/models.ts';
import { importOnnx } from '../onnx/import.ts';
import type { Module } from '../nn/module.ts';
import { datasetFromIdx, firstN, parseIdx, type ImageDataset } from '../train/data.ts';
import type { Engine } from '../wasm/engine.ts';
import { loadEngine } from '../wasm/load.ts';
import { benchEngine, selfTest } from './selftest.ts';
import { runAttack } from '../attacks/attack.ts';
import { logitsAt } from '../attacks/core.ts';
import { parseAttack } from '../attacks/parse.ts';
import { serializeSafetensors } from '../io/safetensors.ts';
import { torchStateDict } from '../nn/checkpoint.ts';
import { Tensor } from '../tensor.ts';
import { accuracy, trainModel } from '../train/train.ts';

type Message = Record<string, unknown> & { id: number; op: string };

const scope = globalThis as unknown as { postMessage(m: unknown): void; addEventListener(t: 'message', f: (e: { data: Message }) => void): void };
const log = (line: string) => scope.postMessage({ op: 'log', line });

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return new Uint8Array(await res.arrayBuffer());
}

let testSet: Promise<ImageDataset> | null = null;
function mnistTest(): Promise<ImageDataset> {
  testSet ??= Promise.all([fetchBytes('/data/mnist/t10k-images-idx3-ubyte', 'MNIST test images'), fetchBytes('/data/mnist/t10k-labels-idx1-ubyte', 'MNIST test labels')])
    .then(([im, lb]) => datasetFromIdx(parseIdx(im, 'MNIST test images'), parseIdx(lb, 'MNIST test labels'), 'MNIST test set'));
  return testSet;
}

const engines = new Map<number | undefined, Promise<Engine>>();
function engineFor(threads: number | undefined): Promise<Engine> {
  let e = engines.get(threads);
  if (!e) {
    e = loadEngine({ threads });
    engines.set(threads, e);
  }
  return e;
}

async function loadCheckpoint(engine: Engine, path: string): Promise<Module> {
  const bytes = await fetchBytes(`/checkpoint?path=${encodeURIComponent(path)}`, `checkpoint ${path}`);
  let model: Module;
  if (path.endsWith('.onnx')) model = importOnnx(engine, bytes, path);
  else {
    model = mnistCnn(engine);
    loadTorchStateDict(model, parseSafetensors(bytes, path).tensors, path);
  }
  for (const p of model.parameters()) p.requiresGrad = false;
  return model.eval();
}

const int = (v: unknown, name: string, min: number): number | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got '${v}'`);
  return n;
};

async function runEval(m: Message): Promise<unknown> {
  if (typeof m.checkpoint !== 'string' || !m.checkpoint) throw new Error('checkpoint: give the path of a .safetensors file');
  const engine = await engineFor(int(m.threads, 'threads', 1));
  const data = await mnistTest();
  const n = m.n === 'all' ? data.n : int(m.n, 'n', 1) ?? 1000;
  if (n > data.n) throw new Error(`n ${n}: the test set has only ${data.n} examples`);
  const steps = int(m.steps, 'steps', 0), restarts = int(m.restarts, 'restarts', 1);
  const tokenDefaults = { ...(steps !== undefined ? { steps } : {}), ...(restarts !== undefined ? { restarts } : {}) };
  const attacks = typeof m.attacks === 'string' && m.attacks ? splitTokens(m.attacks) : undefined;
  const suite = attacks ? undefined : typeof m.suite === 'string' && m.suite ? m.suite : 'standard';
  const threats = suite ? (typeof m.threats === 'string' && m.threats ? m.threats.split(',').map((t) => t.trim()) : DEFAULT_THREATS) : undefined;
  const model = await loadCheckpoint(engine, m.checkpoint);
  try {
    log(`eval: ${m.checkpoint}, ${n} examples, ${suite ? `suite ${suite} (${threats!.join(', ')})` : attacks!.join(', ')} (${engine.threads} threads, build ${engine.build})`);
    const report = evaluate(engine, model, data, {
      attacks, suite, threats, cascade: suite ? true : m.cascade === true || m.cascade === '1', n, batch: int(m.batch, 'batch', 1) ?? 100,
      seed: int(m.seed, 'seed', 0) ?? 0, tokenDefaults, checkpoint: m.checkpoint, log,
    });
    return { report };
  } finally {
    model.dispose();
  }
}

async function runSelfTest(m: Message): Promise<unknown> {
  const engine = await engineFor(int(m.threads, 'threads', 1));
  const data = await mnistTest();
  return { results: selfTest(engine, data.images, data.labels, int(m.n, 'n', 1) ?? 50), threads: engine.threads, build: engine.build, limitMiB: engine.arena.stats().limitBytes / 2 ** 20, isolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ?? null };
}

let trainSet: Promise<ImageDataset> | null = null;
function mnistTrain(): Promise<ImageDataset> {
  trainSet ??= Promise.all([fetchBytes('/data/mnist/train-images-idx3-ubyte', 'MNIST training images'), fetchBytes('/data/mnist/train-labels-idx1-ubyte', 'MNIST training labels')])
    .then(([im, lb]) => datasetFromIdx(parseIdx(im, 'MNIST training images'), parseIdx(lb, 'MNIST training labels'), 'MNIST training set'));
  return trainSet;
}

async function runDigits(m: Message): Promise<unknown> {
  const data = await mnistTest();
  const n = Math.min(int(m.n, 'n', 1) ?? 40, data.n);
  return { images: Array.from(data.images.subarray(0, n * 784)), labels: Array.from(data.labels.subarray(0, n)) };
}

/** Models the page attacks: checkpoints by path, and 'trained' (the page's training run). */
const models = new Map<string, { engine: Engine; model: Module }>();

function softmax(z: Float32Array): number[] {
  const mx = Math.max(...z);
  const e = Array.from(z, (v) => Math.exp(v - mx));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

async function runAttackOp(m: Message): Promise<unknown> {
  let entry: { engine: Engine; model: Module } | undefined;
  if (m.model === 'trained') {
    entry = models.get('trained');
    if (!entry) throw new Error('no trained model yet: train one first');
  } else {
    if (typeof m.checkpoint !== 'string' || !m.checkpoint) throw new Error('checkpoint: give the path of a .safetensors file, or train a model here');
    entry = models.get(m.checkpoint);
    if (!entry) {
      const engine = await engineFor(undefined);
      entry = { engine, model: await loadCheckpoint(engine, m.checkpoint) };
      models.set(m.checkpoint, entry);
    }
  }
  const { engine, model } = entry;
  const data = await mnistTest();
  const index = int(m.index, 'index', 0) ?? 0;
  if (index >= data.n) throw new Error(`index ${index}: the test set has ${data.n} images`);
  const attack = parseAttack(String(m.token), { seed: int(m.seed, 'seed', 0) ?? 0 });
  const clean = data.images.slice(index * 784, (index + 1) * 784);
  const y = data.labels.subarray(index, index + 1);
  return engine.arena.scope(() => {
    const x0 = Tensor.from(engine, clean, [1, 28, 28, 1]);
    const t0 = performance.now();
    const out = runAttack(attack, { engine, model, x0, y, ids: Int32Array.of(index) });
    const seconds = (performance.now() - t0) / 1000;
    const adv = out.adv.toArray();
    let linf = 0, l2 = 0, l1 = 0;
    for (let i = 0; i < 784; i++) {
      const d = Math.abs(adv[i] - clean[i]);
      linf = Math.max(linf, d);
      l2 += d * d;
      l1 += d;
    }
    return {
      label: y[0], attack: attack.name, clean: Array.from(clean), adv: Array.from(adv), probsClean: softmax(logitsAt(model, x0)), probsAdv: softmax(logitsAt(model, out.adv)),
      fooled: out.wrong[0] === 1, norms: { linf, l2: Math.sqrt(l2), l1 }, seconds,
    };
  });
}

async function runTrain(m: Message): Promise<unknown> {
  const engine = await engineFor(int(m.threads, 'threads', 1));
  const train = await mnistTrain(), test = await mnistTest();
  const n = Math.min(int(m.trainN, 'trainN', 100) ?? 2000, train.n);
  const fit: ImageDataset = firstN(train, n);
  const t0 = performance.now();
  const old = models.get('trained');
  const { model } = trainModel(engine, {
    strategy: 'sampled', attacks: ['linf:0.3', 'l2:2', 'l1:10'], attackSteps: int(m.steps, 'steps', 1) ?? 3, startSmall: true,
    epochs: int(m.epochs, 'epochs', 1) ?? 1, batch: 100, seed: int(m.seed, 'seed', 0) ?? 0, lr: 1e-3, schedule: 'step',
    onStep: (p) => scope.postMessage({ op: 'progress', ...p }),
  }, fit);
  for (const p of model.parameters()) p.requiresGrad = false;
  model.eval();
  old?.model.dispose();
  models.set('trained', { engine, model });
  const k = 500;
  const testAccuracy = accuracy(engine, model, firstN(test, k));
  return { testAccuracy, testN: k, seconds: (performance.now() - t0) / 1000, safetensors: serializeSafetensors(torchStateDict(model), { model: 'mnist_cnn', strategy: 'sampled', source: 'multirobust serve' }) };
}

async function runBench(m: Message): Promise<unknown> {
  const engine = await engineFor(int(m.threads, 'threads', 1));
  const test = await mnistTest();
  const batch = int(m.batch, 'batch', 1) ?? 100, reps = int(m.reps, 'reps', 1) ?? 7;
  return { threads: engine.threads, build: engine.build, batch, ...benchEngine(engine, test.images.subarray(0, batch * 784), test.labels.subarray(0, batch), reps) };
}

const OPS: Record<string, (m: Message) => Promise<unknown>> = { eval: runEval, selftest: runSelfTest, digits: runDigits, attack: runAttackOp, train: runTrain, bench: runBench };

scope.addEventListener('message', (e) => {
  const m = e.data;
  const op = OPS[m.op];
  const reply = op ? op(m) : Promise.reject(new Error(`unknown operation '${m.op}'`));
  reply.then(
    (r) => scope.postMessage({ id: m.id, ok: true, ...(r as object) }),
    (err) => scope.postMessage({ id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
scope.postMessage({ op: 'ready' });
