// peerResults(): validate, then time the JS peers (tfjs-wasm, jax-js) on the paper's MNIST CNN at
// batch 100, forward / input gradient / train step, in this process. bench/peers.bench.ts prints it;
// bench/e2e.bench.ts passes our engine as an `extra` peer so that every figure comes from the same run,
// the same weights and inputs, and the same validation.
import { Bench, type Task } from 'tinybench';
import { createJaxPeer, type JaxOptimizer, type JaxVariant } from './jaxjs.ts';
import { BATCH, CLASSES, FLOPS_PER_IMAGE, IMAGE, makeBatch, makeWeights, maxRelDiff, referenceForwardBackward, type Peer, type Weights } from './model.ts';
import { createTfjsPeer } from './tfjs.ts';

export type Op = 'forward' | 'input_grad' | 'train_step';
export const OPS: Op[] = ['forward', 'input_grad', 'train_step'];

/** Images per second: median over timed calls, and the range (slowest–fastest call). */
export interface Rate {
  median: number;
  min: number;
  max: number;
  calls: number;
}

export interface PeerResult {
  /** JSON key: tfjs_wasm, jax_js_im2col, jax_js_conv, or the extra peer's key. */
  key: string;
  name: string;
  threads: number;
  optimizer: string;
  rates: Partial<Record<Op, Rate>>;
  /** Ops that could not run, with the error text (tfjs: Conv2DBackpropFilter). */
  unsupported: Partial<Record<Op, string>>;
  /** Max relative difference (max|a−b| / max|b|) to the float64 reference on the first images (NaN: not computed, a forward-only peer). */
  vsReference: { logits: number; input_grad: number };
  /** Same, to the first peer (full batch). */
  vsFirstPeer?: { logits: number; input_grad: number };
}

export interface PeerResults {
  model: 'mnist-cnn';
  batch: number;
  /** The jax-js variant that `jax_js` stands for, and why. */
  jaxBest?: { variant: JaxVariant; note: string };
  peers: PeerResult[];
  /** `{ forward: { tfjs_wasm: x, jax_js: z, ... }, ... }`: img/s (median call of the fastest round), the shape issue 9 asks for. */
  results: Record<Op, Record<string, number | string>>;
  /** Per extra task: ms per call (median call of its fastest round), and that median in every round. */
  extraMs: Record<string, { best: number; rounds: number[] }>;
}

export interface PeerOptions {
  batch?: number;
  /** 'auto' (default): time one forward of each variant, run the full set on the faster; 'both': full set for both. */
  jax?: JaxVariant | 'auto' | 'both' | 'none';
  jaxOptimizer?: JaxOptimizer;
  tfjs?: boolean;
  /** Time budget per task, ms, over all rounds (each task still runs at least `minCalls` timed calls in all). */
  timeMs?: number;
  minCalls?: number;
  /**
   * Rounds (default 3): every task is timed once per round, rounds one after the other. A task's
   * rate is the median call of its fastest round; its range spans all rounds. On a shared machine
   * the load changes within a run: sampling every peer in several windows and keeping each one's
   * least disturbed window keeps a busy moment from landing on one peer only (the same rule for all).
   */
  rounds?: number;
  /** Images checked against the float64 reference (it is slow: ~0.1 s per image). */
  referenceImages?: number;
  /** More peers (our engine) to validate and time with the same weights and inputs; `key` names their column. */
  extra?: { key: string; create: (w: Weights) => Promise<Peer> }[];
  /** Other calls timed in the same rounds by the same rule (e.g. the GEMM roofline); results in `extraMs`. */
  extraTasks?: { key: string; run: () => void | Promise<void> }[];
  log?: (line: string) => void;
}

const TOL = 1e-4;

function check(label: string, rel: number): number {
  if (!(rel <= TOL)) throw new Error(`${label}: validation failed, max relative difference ${rel} > ${TOL}`);
  return rel;
}

/** Mean softmax cross-entropy of float32 logits, in float64. */
function meanXent(logits: Float32Array, y: Int32Array): number {
  let s = 0;
  for (let b = 0; b < y.length; b++) {
    const row = logits.subarray(b * CLASSES, (b + 1) * CLASSES);
    const m = Math.max(...row);
    let z = 0;
    for (const v of row) z += Math.exp(v - m);
    s += m + Math.log(z) - row[y[b]];
  }
  return s / y.length;
}

/** A finished task's latency samples (ms), kept with retainSamples. */
function samplesOf(task: Task | undefined): number[] {
  const r = task?.result as { latency?: { samples?: ArrayLike<number> }; state?: string } | undefined;
  const samples = r?.latency?.samples;
  if (!samples || samples.length === 0) throw new Error(`task ${task?.name} has no samples (${r?.state ?? 'not run'})`);
  return Array.from(samples);
}

function medianOf(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * img/s from per-round latency samples (ms per call of `batch` images): `median` from the round
 * with the lowest median latency, slowest and fastest call over all rounds.
 */
function rate(rounds: number[][], batch: number): Rate {
  const all = rounds.flat();
  if (all.length === 0) throw new Error('rate: no samples');
  const best = Math.min(...rounds.filter((r) => r.length > 0).map(medianOf));
  return { median: (batch * 1000) / best, min: (batch * 1000) / Math.max(...all), max: (batch * 1000) / Math.min(...all), calls: all.length };
}

export async function peerResults(opts: PeerOptions = {}): Promise<PeerResults> {
  const batch = opts.batch ?? BATCH;
  const log = opts.log ?? ((s: string) => console.error(s));
  const jaxMode = opts.jax ?? 'auto';
  const weights = makeWeights(1);
  const { x, y } = makeBatch(batch, 2);
  const nRef = Math.min(opts.referenceImages ?? 4, batch);
  const hw = IMAGE.h * IMAGE.w;
  const ref = referenceForwardBackward(weights, x.subarray(0, nRef * hw), nRef, y.subarray(0, nRef));

  type Entry = { key: string; create: () => Promise<Peer> };
  const entries: Entry[] = [];
  if (opts.tfjs ?? true) entries.push({ key: 'tfjs_wasm', create: () => createTfjsPeer(weights) });
  const jaxPeer = (variant: JaxVariant) => () => createJaxPeer(weights, { variant, optimizer: opts.jaxOptimizer });
  let jaxBest: PeerResults['jaxBest'];
  if (jaxMode === 'auto') {
    // One warmed-up forward call per variant decides which one gets the full (slow) timing.
    const ms: Partial<Record<JaxVariant, number>> = {};
    for (const variant of ['im2col', 'conv'] as const) {
      const p = await jaxPeer(variant)();
      await p.forward(x);
      const t0 = performance.now();
      await p.forward(x);
      ms[variant] = performance.now() - t0;
      p.dispose();
    }
    const variant: JaxVariant = ms.im2col! <= ms.conv! ? 'im2col' : 'conv';
    const img = (v: JaxVariant) => ((batch * 1000) / ms[v]!).toFixed(1);
    jaxBest = { variant, note: `one forward call each: im2col ${img('im2col')} img/s, lax.conv ${img('conv')} img/s` };
    log(`jax-js variant: ${variant} (${jaxBest.note})`);
    entries.push({ key: `jax_js_${variant}`, create: jaxPeer(variant) });
  } else if (jaxMode === 'both') {
    entries.push({ key: 'jax_js_im2col', create: jaxPeer('im2col') }, { key: 'jax_js_conv', create: jaxPeer('conv') });
  } else if (jaxMode !== 'none') {
    entries.push({ key: `jax_js_${jaxMode}`, create: jaxPeer(jaxMode) });
  }
  for (const e of opts.extra ?? []) entries.push({ key: e.key, create: () => e.create(weights) });

  // Validation (also the warm-up: jit compilation, first-call allocations). Nothing is timed on a wrong result.
  const peers: { entry: Entry; peer: Peer; result: PeerResult }[] = [];
  let first: { logits: Float32Array; dx: Float32Array } | undefined;
  for (const entry of entries) {
    const peer = await entry.create();
    const logits = await peer.forward(x);
    // A forward-only peer (an inference runtime: onnxruntime-web) throws from inputGrad: it is
    // validated and timed on the forward pass only, and must not be the first peer.
    let dx: Float32Array | null = null, noGrad: string | null = null;
    try {
      dx = await peer.inputGrad(x, y);
    } catch (e) {
      noGrad = (e as Error).message;
      if (!first) throw new Error(`${peer.name}: the first peer must compute input gradients (${noGrad})`);
    }
    // dL/dx of image i scales with 1/batch; the reference used a batch of nRef.
    const dxHead = dx ? Float64Array.from(dx.subarray(0, nRef * hw), (v) => (v * batch) / nRef) : null;
    const result: PeerResult = {
      key: entry.key, name: peer.name, threads: peer.threads, optimizer: peer.optimizer, rates: {}, unsupported: noGrad ? { input_grad: noGrad, train_step: noGrad } : {},
      vsReference: {
        logits: check(`${peer.name} logits vs float64 reference`, maxRelDiff(logits.subarray(0, nRef * CLASSES), ref.logits)),
        input_grad: dxHead ? check(`${peer.name} input gradient vs float64 reference`, maxRelDiff(dxHead, ref.dx!)) : NaN,
      },
    };
    if (first) {
      result.vsFirstPeer = {
        logits: check(`${peer.name} logits vs ${peers[0].peer.name}`, maxRelDiff(logits, first.logits)),
        input_grad: dx ? check(`${peer.name} input gradient vs ${peers[0].peer.name}`, maxRelDiff(dx, first.dx)) : NaN,
      };
    } else first = { logits, dx: dx! };
    if (!noGrad) try {
      const loss = await peer.trainStep(x, y);
      const want = meanXent(logits, y);
      if (!(Math.abs(loss - want) <= TOL * Math.max(1, Math.abs(want)))) throw new Error(`${peer.name}: first train-step loss ${loss} != ${want} (from its logits)`);
    } catch (e) {
      const msg = (e as Error).message;
      if (msg.includes('first train-step loss')) throw e;
      result.unsupported.train_step = msg;
    }
    log(`validated ${peer.name}: logits ${result.vsReference.logits.toExponential(1)}, input grad ${result.vsReference.input_grad.toExponential(1)} vs float64` +
      (result.vsFirstPeer ? `; vs ${peers[0].peer.name}: logits ${result.vsFirstPeer.logits.toExponential(1)}, input grad ${result.vsFirstPeer.input_grad.toExponential(1)}` : '') +
      (result.unsupported.train_step ? `; train step unsupported: ${result.unsupported.train_step}` : ''));
    peers.push({ entry, peer, result });
  }

  const rounds = opts.rounds ?? 3;
  const samples = new Map<string, number[][]>(); // task → samples of each round
  for (let round = 1; round <= rounds; round++) {
    const bench = new Bench({ time: (opts.timeMs ?? 3000) / rounds, iterations: Math.ceil((opts.minCalls ?? 3) / rounds), warmupTime: 0, warmupIterations: 1, retainSamples: true });
    for (const { entry, peer, result } of peers) {
      bench.add(`${entry.key}|forward`, async () => void (await peer.forward(x)));
      if (!result.unsupported.input_grad) bench.add(`${entry.key}|input_grad`, async () => void (await peer.inputGrad(x, y)));
      if (!result.unsupported.train_step) bench.add(`${entry.key}|train_step`, async () => void (await peer.trainStep(x, y)));
    }
    for (const t of opts.extraTasks ?? []) bench.add(`extra|${t.key}`, t.run);
    log(`timing ${bench.tasks.length} tasks at batch ${batch}, round ${round} of ${rounds}…`);
    await bench.run();
    for (const task of bench.tasks) samples.set(task.name, [...(samples.get(task.name) ?? []), samplesOf(task)]);
  }

  const results = { forward: {}, input_grad: {}, train_step: {} } as PeerResults['results'];
  for (const { entry, peer, result } of peers) {
    for (const op of OPS) {
      if (result.unsupported[op]) results[op][entry.key] = 'unsupported';
      else {
        result.rates[op] = rate(samples.get(`${entry.key}|${op}`) ?? [], batch);
        results[op][entry.key] = result.rates[op]!.median;
      }
    }
    peer.dispose();
  }
  // `jax_js`: the best jax-js variant per op (issue 9's column).
  for (const op of OPS) {
    const jax = peers.filter((p) => p.entry.key.startsWith('jax_js_') && p.result.rates[op]);
    if (jax.length) results[op].jax_js = Math.max(...jax.map((p) => p.result.rates[op]!.median));
  }
  const extraMs: PeerResults['extraMs'] = {};
  for (const t of opts.extraTasks ?? []) {
    const perRound = (samples.get(`extra|${t.key}`) ?? []).map(medianOf);
    extraMs[t.key] = { best: Math.min(...perRound), rounds: perRound };
  }
  return { model: 'mnist-cnn', batch, jaxBest, peers: peers.map((p) => p.result), results, extraMs };
}

const fmtRate = (r: Rate | undefined) => (r ? `${r.median.toFixed(1)} [${r.min.toFixed(1)}–${r.max.toFixed(1)}]` : '—');

/** Markdown table: img/s (median call of the fastest round) [slowest–fastest call] and GFLOP/s per op, one row per peer. */
export function peerTable(res: PeerResults): string {
  const header = ['peer', 'threads', 'forward img/s', 'input grad img/s', 'train step img/s', 'GFLOP/s fwd / igrad / train', 'train update', 'vs float64 (logits, dx)'];
  const rows = res.peers.map((p) => [
    p.name, p.threads, fmtRate(p.rates.forward), p.unsupported.input_grad ? 'unsupported' : fmtRate(p.rates.input_grad),
    p.unsupported.input_grad ? 'unsupported' : p.unsupported.train_step ? `unsupported: \`${p.unsupported.train_step}\`` : fmtRate(p.rates.train_step),
    OPS.map((op) => (p.rates[op] ? ((p.rates[op]!.median * FLOPS_PER_IMAGE[op]) / 1e9).toFixed(2) : '—')).join(' / '),
    p.unsupported.train_step ? '—' : p.optimizer,
    `${p.vsReference.logits.toExponential(1)}, ${Number.isNaN(p.vsReference.input_grad) ? '—' : p.vsReference.input_grad.toExponential(1)}`,
  ]);
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
