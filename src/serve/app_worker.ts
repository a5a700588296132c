// The page's engine thread (a dedicated module Worker started by src/serve/page.ts). The engine
// lives here, not on the page's main thread, because its pool blocks in Atomics.wait, which a
// page's main thread may not do; its own workers are started from here (src/wasm/pool.ts).
// Messages in: { id, op, …args }; out: { id, ok: true, …result } or { id, ok: false, error }, and
// { op: 'log', line } progress lines. Operations:
//   eval      { checkpoint, attacks?, suite?, threats?, n, seed, threads?, batch?, steps?, restarts?, cascade? }
//             → { report }: exactly what `multirobust eval --out` writes for the same arguments
//   selftest  { threads?, n? } → { results, threads, build } (src/serve/selftest.ts)
// Data: the MNIST test set from /data/mnist/, checkpoints from /checkpoint?path= (src/serve/server.ts).
import { evaluate } from '../eval/evaluate.ts';
import { DEFAULT_THREATS } from '../eval/suites.ts';
import { splitTokens } from '../attacks/parse.ts';
import { parseSafetensors } from '../io/safetensors.ts';
import { loadTorchStateDict } from '../nn/checkpoint.ts';
import { mnistCnn } from '../nn/models.ts';
import type { Module } from '../nn/module.ts';
import { datasetFromIdx, parseIdx, type ImageDataset } from '../train/data.ts';
import type { Engine } from '../wasm/engine.ts';
import { loadEngine } from '../wasm/load.ts';
import { selfTest } from './selftest.ts';

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
  const model = mnistCnn(engine);
  loadTorchStateDict(model, parseSafetensors(bytes, path).tensors, path);
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
  return { results: selfTest(engine, data.images, data.labels, int(m.n, 'n', 1) ?? 50), threads: engine.threads, build: engine.build, isolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ?? null };
}

const OPS: Record<string, (m: Message) => Promise<unknown>> = { eval: runEval, selftest: runSelfTest };

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
