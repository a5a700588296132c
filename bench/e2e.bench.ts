// npm run bench [-- --json FILE] [--torch FILE] [--threads N] [--memory-steps N | --full] [--time MS] [--jax MODE] [--no-tfjs] [--no-ort]
//   npm run bench -- --model FILE.onnx [--threads N] [--time MS]   (an imported ONNX model vs onnxruntime-web: bench/peers/onnx_model.ts)
// Issue 9's end-to-end bench: the paper's MNIST CNN at batch 100 — forward, input gradient (one PGD
// step, weights frozen) and training step (forward, backward, Adam) — for our engine at N threads
// (default: available parallelism) and at 1 thread, TensorFlow.js 4.22 wasm and jax-js 0.1.25 (its
// faster model variant), in one process, same weights and inputs, each validated against a float64
// reference and against the first peer before timing (bench/peers/results.ts). Also our engine with
// convAlgorithm 'gemm' (no Winograd: every counted FLOP executed, the honest roofline fraction).
// Our GEMM 512³ at N and 1 threads is timed in the same rounds: the roofline the network's GFLOP/s is compared with.
// Thread scaling: ours at N threads ÷ ours at 1 thread per quantity, beside the GEMM 512³'s own ratio (table line and JSON `scaling`).
//   --memory-steps N: then N consecutive Adam steps at batch 100 on a fresh model (N threads), with
//     the WASM memory high-water mark and the process RSS (after a full GC) after step 100 and step N (flat = within 5 %).
//     --full = --memory-steps 1000 (issue 9's acceptance run: ≈ 2–3 minutes more at ~600–700 training img/s).
//   --torch FILE: PyTorch figures from the JSON line printed by ../shared/anchors/torch_bench.py madry T.
// Takes ≈ 3–4 minutes without the memory phase (jax-js's slow calls dominate). Wall-clock timing, each
// task sampled in 3 rounds (bench/peers/results.ts): the N-thread figures need an otherwise idle
// machine; the header prints the load average.
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gemm } from '../src/kernels/gemm.ts';
import type { Engine } from '../src/wasm/engine.ts';
import { intFlag, parseOrExit, UsageError } from '../src/cli/flags.ts';
import { loadEngine } from '../src/wasm/load.ts';
import { fmt, markdownTable, randomArray } from './_util.ts';
import { BATCH, FLOPS_PER_IMAGE, makeBatch, makeWeights, type Weights } from './peers/model.ts';
import { ourPeer } from './peers/ours.ts';
import { createOrtPeer } from './peers/ort.ts';
import { benchOnnxModel } from './peers/onnx_model.ts';
import { OPS, peerResults, peerTable, type Op, type PeerOptions, type PeerResult, type Rate } from './peers/results.ts';
import { GEMM_SQUARE } from './shapes.ts';

interface Args {
  json?: string;
  torch?: string;
  threads: number;
  memorySteps: number;
  timeMs?: number;
  jax: NonNullable<PeerOptions['jax']>;
  tfjs: boolean;
  ort: boolean;
  /** Time this imported ONNX model instead of the paper's CNN and its peers. */
  model?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { threads: availableParallelism(), memorySteps: 0, jax: 'auto', tfjs: true, ort: true };
  const int = (flag: string, v: string, min: number) => intFlag(flag.slice(2), v, { min })!;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a}: missing value`);
      return v;
    };
    if (a === '--json') args.json = value();
    else if (a === '--torch') args.torch = value();
    else if (a === '--threads') args.threads = int(a, value(), 1);
    else if (a === '--memory-steps') {
      args.memorySteps = int(a, value(), 0);
      if (args.memorySteps > 0 && args.memorySteps <= 100) throw new UsageError(`--memory-steps must be 0 (skip) or > 100 (RSS is compared with step 100), got '${args.memorySteps}'`);
    } else if (a === '--full') args.memorySteps = 1000;
    else if (a === '--time') args.timeMs = int(a, value(), 1);
    else if (a === '--jax') {
      const v = value();
      if (!['auto', 'both', 'im2col', 'conv', 'none'].includes(v)) throw new UsageError(`--jax must be auto|both|im2col|conv|none, got '${v}'`);
      args.jax = v as Args['jax'];
    } else if (a === '--no-tfjs') args.tfjs = false;
    else if (a === '--no-ort') args.ort = false;
    else if (a === '--model') {
      args.model = value();
      if (!args.model.endsWith('.onnx')) throw new UsageError(`--model must be an .onnx file, got '${args.model}'`);
    }
    else throw new UsageError(`unknown argument '${a}'`);
  }
  return args;
}

// ---------------------------------------------------------------- PyTorch (optional)

type TorchOp = 'fwd' | 'igrad' | 'train';
const TORCH_OP: Record<Op, TorchOp> = { forward: 'fwd', input_grad: 'igrad', train_step: 'train' };
interface TorchRun {
  torch: string;
  model: string;
  threads: number;
  results: Record<TorchOp, { img_per_s_median: number; min: number; max: number }>;
}

/** torch_bench.py prints one JSON line per run; the file may hold several: the madry run at `threads` wins, else the last madry run. */
function readTorch(path: string, threads: number): TorchRun {
  const runs: TorchRun[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const s = line.trim();
    if (!s.startsWith('{')) continue;
    const r = JSON.parse(s) as TorchRun;
    if (r.model === 'madry' && r.results?.fwd && r.results?.igrad && r.results?.train) runs.push(r);
  }
  if (!runs.length) throw new Error(`--torch ${path}: no JSON line of 'torch_bench.py madry <threads>' found`);
  return runs.filter((r) => r.threads === threads).pop() ?? runs[runs.length - 1];
}

// ---------------------------------------------------------------- GEMM roofline

/**
 * GEMM 512³ calls on each engine, validated first (1 vs N threads bit-identical), for timing in the
 * same rounds as the peers (so the roofline and the network see the same machine load).
 */
function gemmTasks(engines: Engine[]): { runs: (() => void)[]; flops: number; free: () => void } {
  const { M, N, K } = GEMM_SQUARE;
  const a = randomArray(M * K, 1), b = randomArray(K * N, 2);
  const runs = engines.map((engine) => {
    const bufs = { a: engine.fromF32(a), b: engine.fromF32(b), c: engine.arena.allocF32(M * N) };
    const run = () => gemm(engine, { M, N, K, ...bufs });
    run();
    return { run, out: engine.toF32(bufs.c), free: () => [bufs.a, bufs.b, bufs.c].forEach((x) => engine.arena.free(x.ptr)) };
  });
  for (let i = 1; i < runs.length; i++) {
    if (runs[i].out.some((v, j) => !Object.is(v, runs[0].out[j]))) throw new Error(`gemm 512³: engine ${i} differs from engine 0`);
  }
  return { runs: runs.map((r) => r.run), flops: 2 * M * N * K, free: () => runs.forEach((r) => r.free()) };
}

// ---------------------------------------------------------------- memory

interface MemoryReport {
  steps: number;
  batch: number;
  threads: number;
  imagesPerSec: number;
  at100: { rssBytes: number; wasmHighWaterBytes: number; wasmMemoryBytes: number; arenaInUseBytes: number };
  atEnd: { rssBytes: number; wasmHighWaterBytes: number; wasmMemoryBytes: number; arenaInUseBytes: number };
  rssChange: number;
  rssFlat: boolean;
  wasmFlat: boolean;
}

/** V8's full garbage collection (exposed at run time: the script runs under plain vite-node). */
function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** `steps` consecutive Adam steps at batch 100 on a fresh model, cycling over 10 seeded batches. */
async function memoryPhase(engine: Engine, steps: number, log: (s: string) => void): Promise<MemoryReport> {
  const peer = await ourPeer(makeWeights(1), { engine });
  const batches = Array.from({ length: 10 }, (_, i) => makeBatch(BATCH, 100 + i));
  const gc = fullGc();
  // RSS after a full GC, so that the comparison sees leaks rather than where V8's collector happens to be.
  const snapshot = () => {
    gc();
    const s = engine.arena.stats();
    return { rssBytes: process.memoryUsage().rss, wasmHighWaterBytes: s.highWaterBytes, wasmMemoryBytes: s.memoryBytes, arenaInUseBytes: s.inUseBytes };
  };
  let at100 = snapshot();
  let t100 = 0;
  log(`memory: ${steps} training steps at batch ${BATCH}, ${engine.threads} thread(s)…`);
  for (let step = 1; step <= steps; step++) {
    const { x, y } = batches[step % batches.length];
    const loss = await peer.trainStep(x, y);
    if (!Number.isFinite(loss)) throw new Error(`memory: loss ${loss} at step ${step}`);
    if (step === 100) {
      at100 = snapshot();
      t100 = performance.now();
    }
    if (step % 250 === 0) log(`  step ${step}: loss ${loss.toFixed(4)}, RSS ${mib(process.memoryUsage().rss)} MiB`);
  }
  const imagesPerSec = ((steps - 100) * BATCH * 1000) / (performance.now() - t100);
  const atEnd = snapshot();
  peer.dispose();
  const rssChange = atEnd.rssBytes / at100.rssBytes - 1;
  return {
    steps, batch: BATCH, threads: engine.threads, imagesPerSec, at100, atEnd, rssChange,
    rssFlat: Math.abs(rssChange) <= 0.05,
    wasmFlat: atEnd.wasmHighWaterBytes === at100.wasmHighWaterBytes && atEnd.arenaInUseBytes === at100.arenaInUseBytes,
  };
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
/** a ÷ b rounded to 3 decimals, or undefined when either is missing. */
const scale = (a: number | undefined, b: number | undefined) => (a && b ? Number((a / b).toFixed(3)) : undefined);
const fmtScale = (r: number | undefined) => (r === undefined ? '—' : `${r.toFixed(2)}×`);

// ---------------------------------------------------------------- main

const fmtRate = (r: Rate | undefined) => (r ? `${fmt(r.median)} [${fmt(r.min)}–${fmt(r.max)}]` : '—');
const loadStr = () => loadavg().map((x) => x.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const args = parseOrExit('bench', () => parseArgs(process.argv.slice(2).filter((a) => !a.endsWith('e2e.bench.ts'))));
  const log = (s: string) => console.error(s);
  if (args.model) {
    const engine = await loadEngine({ threads: args.threads });
    try {
      console.log(`\nbench --model ${args.model}: batch ${BATCH}, ${engine.threads} thread(s), ${engine.build} build, median call of the fastest of 3 rounds, ${new Date().toISOString()}, load average ${loadStr()}\n`);
      console.log(await benchOnnxModel(engine, args.model, { batch: BATCH, rounds: 3, timeMs: args.timeMs ?? 6000, log }));
    } finally {
      await engine.close();
    }
    return;
  }
  const loadBefore = loadStr();
  const engineN = await loadEngine({ threads: args.threads });
  const engine1 = await loadEngine({ threads: 1 });
  // Every FLOP of perf.md's count executed: the network's true fraction of the GEMM roofline.
  const engineGemm = await loadEngine({ threads: args.threads, convAlgorithm: 'gemm' });
  log(`bench e2e: ${engineN.build} build, ${engineN.isa} kernels, ${engineN.threads} + 1 thread(s); load average ${loadBefore}`);
  const gemmCalls = gemmTasks([engineN, engine1]);

  const res = await peerResults({
    jax: args.jax, tfjs: args.tfjs, timeMs: args.timeMs, log,
    extra: [
      { key: 'ours', create: (w) => ourPeer(w, { engine: engineN }) },
      { key: 'ours_1thread', create: (w) => ourPeer(w, { engine: engine1 }) },
      { key: 'ours_gemm', create: (w) => ourPeer(w, { engine: engineGemm, variant: 'implicit GEMM only' }) },
      // onnxruntime-web runs the project's ONNX export on the same thread count: forward only.
      ...(args.ort ? [{ key: 'ort_web', create: (w: Weights) => createOrtPeer(w, { threads: engineN.threads }) }] : []),
    ],
    extraTasks: [
      { key: 'gemm_n', run: gemmCalls.runs[0] },
      { key: 'gemm_1', run: gemmCalls.runs[1] },
    ],
  });
  gemmCalls.free();
  const loadAfterPeers = loadStr();
  // NOTE: the roofline is timed in the same rounds, by the same rule (fastest round), as the network.
  const gemmRounds = (key: string) => res.extraMs[key].rounds.map((ms) => gemmCalls.flops / (ms * 1e6));
  const [gemmN, gemm1] = ['gemm_n', 'gemm_1'].map((k) => gemmCalls.flops / (res.extraMs[k].best * 1e6));
  const torch = args.torch ? readTorch(args.torch, engineN.threads) : undefined;
  const memory = args.memorySteps > 0 ? await memoryPhase(engineN, args.memorySteps, log) : undefined;
  const loadEnd = loadStr();
  await Promise.all([engineN.close(), engine1.close(), engineGemm.close()]);

  const peer = (key: string) => res.peers.find((p) => p.key === key);
  const ours = peer('ours')!, ours1 = peer('ours_1thread')!, oursGemm = peer('ours_gemm')!, tfjs = peer('tfjs_wasm'), ortWeb = peer('ort_web');
  const jaxKey = res.peers.filter((p) => p.key.startsWith('jax_js_'));
  const rate = (p: PeerResult | undefined, op: Op) => p?.rates[op]?.median;
  const bestJax = (op: Op) => jaxKey.filter((p) => p.rates[op]).sort((a, b) => b.rates[op]!.median - a.rates[op]!.median)[0];
  const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${fmt(a / b, 2)}×` : '—');
  const gflops = (imgPerSec: number | undefined, op: Op) => (imgPerSec ? (imgPerSec * FLOPS_PER_IMAGE[op]) / 1e9 : undefined);

  const rows: (string | number)[][] = [];
  const opLabel: Record<Op, string> = { forward: 'forward', input_grad: 'input gradient (PGD step)', train_step: 'train step (fwd + bwd + update)' };
  for (const op of OPS) {
    const tf = rate(tfjs, op), jx = bestJax(op);
    const line = (name: string, threads: number | string, r: Rate | undefined, gemmRef: number | undefined, extra?: string) => {
      const g = gflops(r?.median, op);
      rows.push([opLabel[op], name, threads, extra ?? fmtRate(r), ratio(r?.median, tf), ratio(r?.median, rate(jx, op)), ratio(r?.median, rate(ortWeb, op)), g ? fmt(g, 2) : '—', g && gemmRef ? `${fmt((100 * g) / gemmRef, 0)} %` : '—']);
    };
    line('ours', engineN.threads, ours.rates[op], gemmN);
    line('ours', 1, ours1.rates[op], gemm1);
    line('ours, implicit GEMM only', engineN.threads, oursGemm.rates[op], gemmN);
    if (tfjs) line('tfjs-wasm 4.22', tfjs.threads, tfjs.rates[op], undefined, tfjs.unsupported[op] ? `unsupported: \`${tfjs.unsupported[op]}\`` : undefined);
    if (jx) line(`jax-js 0.1.25 (${jx.key.replace('jax_js_', '')})`, jx.threads, jx.rates[op], undefined);
    if (ortWeb && !ortWeb.unsupported[op]) line(ortWeb.name, ortWeb.threads, ortWeb.rates[op], undefined);
    if (torch) {
      const t = torch.results[TORCH_OP[op]];
      line(`PyTorch ${torch.torch}${op === 'train_step' ? ' (SGD)' : ''}`, torch.threads, { median: t.img_per_s_median, min: t.min, max: t.max, calls: 0 }, undefined);
    }
  }

  // Thread scaling (issue 20): ours at N threads ÷ ours at 1 thread per quantity, the GEMM's beside it.
  const scaling = {
    threads: engineN.threads,
    forward: scale(rate(ours, 'forward'), rate(ours1, 'forward')),
    input_grad: scale(rate(ours, 'input_grad'), rate(ours1, 'input_grad')),
    train_step: scale(rate(ours, 'train_step'), rate(ours1, 'train_step')),
    gemm_512: scale(gemmN, gemm1),
  };
  const cpu = cpus()[0]?.model ?? '?';
  console.log(`\nbench (e2e) — MNIST CNN (paper), batch ${res.batch}, img/s: median call of the fastest of 3 rounds [slowest–fastest call of all rounds], ${new Date().toISOString()}`);
  console.log(`node ${process.version}, ${cpus().length} × ${cpu}; our engine: ${engineN.build} build, ${engineN.isa} kernels; load average (1/5/15 min): before ${loadBefore}, after peers ${loadAfterPeers}, end ${loadEnd}`);
  console.log(`our GEMM 512³, timed in the same rounds (fastest round; each round's figure in brackets): ${fmt(gemmN, 1)} GFLOP/s at ${engineN.threads} threads [${gemmRounds('gemm_n').map((g) => fmt(g)).join(', ')}], ` +
    `${fmt(gemm1, 1)} GFLOP/s at 1 thread [${gemmRounds('gemm_1').map((g) => fmt(g)).join(', ')}]. FLOPs per image (perf.md §1): fwd 27.77 M, igrad 55.54 M, train 82.05 M.`);
  console.log('GFLOP/s are effective: those FLOP counts ÷ time. Our conv2 runs on Winograd F(2×2, 5×5), which does ~2.6× fewer operations than counted, so "ours" can pass 100 % of the GEMM; "ours, implicit GEMM only" executes every counted FLOP (the true roofline fraction).\n');
  console.log(markdownTable(['quantity', 'engine', 'threads', 'img/s', '× tfjs-wasm', '× jax-js', '× onnxruntime-web', 'GFLOP/s', '% of our GEMM (same threads)'], rows));
  console.log(`\nThread scaling, ours ${scaling.threads} threads ÷ ours 1 thread (same run): forward ${fmtScale(scaling.forward)}, input gradient ${fmtScale(scaling.input_grad)}, train step ${fmtScale(scaling.train_step)}; our GEMM 512³: ${fmtScale(scaling.gemm_512)}.`);
  if (res.jaxBest) console.log(`\njax-js: the ${res.jaxBest.variant} variant is timed (${res.jaxBest.note}); it runs on one thread in Node 20.`);
  console.log(`Updates: ours ${ours.optimizer}, jax-js ${jaxKey[0]?.optimizer ?? '—'}, tfjs ${tfjs?.optimizer ?? '—'}${torch ? ', PyTorch SGD(lr 0.01)' : ''}.`);
  console.log('\nValidation and per-peer detail (max relative difference to the float64 reference on the first images):\n');
  console.log(peerTable(res));

  const acceptance: [string, boolean | undefined][] = [];
  const ge = (a: number | undefined, b: number | undefined, k: number) => (a !== undefined && b !== undefined ? a >= k * b : undefined);
  acceptance.push([`forward ≥ 1.5× tfjs-wasm (${ratio(rate(ours, 'forward'), rate(tfjs, 'forward'))})`, ge(rate(ours, 'forward'), rate(tfjs, 'forward'), 1.5)]);
  acceptance.push([`input gradient ≥ 6× tfjs-wasm (${ratio(rate(ours, 'input_grad'), rate(tfjs, 'input_grad'))})`, ge(rate(ours, 'input_grad'), rate(tfjs, 'input_grad'), 6)]);
  if (ortWeb) acceptance.push([`forward ≥ 2× onnxruntime-web at ${ortWeb.threads} threads (${ratio(rate(ours, 'forward'), rate(ortWeb, 'forward'))}; issue 29)`, ge(rate(ours, 'forward'), rate(ortWeb, 'forward'), 2)]);
  acceptance.push([`train step ≥ 500 img/s (${fmt(rate(ours, 'train_step') ?? NaN)})`, ge(rate(ours, 'train_step'), 500, 1)]);
  // NOTE: checked on the implicit-GEMM-only run, where every counted FLOP is executed; Winograd's effective figure is shown beside it.
  const trainFrac = (gflops(rate(oursGemm, 'train_step'), 'train_step') ?? 0) / gemmN;
  const trainFracEffective = (gflops(rate(ours, 'train_step'), 'train_step') ?? 0) / gemmN;
  acceptance.push([`train step ≥ 55 % of our GEMM GFLOP/s (implicit GEMM only, every FLOP executed: ${fmt(100 * trainFrac, 0)} %; default engine, effective: ${fmt(100 * trainFracEffective, 0)} %)`, trainFrac >= 0.55]);
  acceptance.push([`1 thread: train step ≥ 4× jax-js best (${ratio(rate(ours1, 'train_step'), rate(bestJax('train_step'), 'train_step'))})`, ge(rate(ours1, 'train_step'), rate(bestJax('train_step'), 'train_step'), 4)]);
  acceptance.push([`1 thread: input gradient ≥ 8× jax-js best (${ratio(rate(ours1, 'input_grad'), rate(bestJax('input_grad'), 'input_grad'))})`, ge(rate(ours1, 'input_grad'), rate(bestJax('input_grad'), 'input_grad'), 8)]);

  if (engineN.threads > 1) {
    acceptance.push([`${engineN.threads} threads ÷ 1 thread: input gradient ≥ 1.85× (${fmtScale(scaling.input_grad)}), train step ≥ 1.85× (${fmtScale(scaling.train_step)}); GEMM 512³ ${fmtScale(scaling.gemm_512)} (issue 20)`,
      scaling.input_grad !== undefined && scaling.train_step !== undefined ? scaling.input_grad >= 1.85 && scaling.train_step >= 1.85 : undefined]);
  }

  if (memory) {
    console.log(`\nMemory: ${memory.steps} consecutive Adam steps at batch ${memory.batch}, ${memory.threads} thread(s), ${fmt(memory.imagesPerSec)} img/s sustained over steps 101–${memory.steps}`);
    console.log(markdownTable(['after step', 'process RSS MiB (after full GC)', 'WASM high-water MiB', 'WASM memory MiB', 'arena in use MiB'], [
      [100, mib(memory.at100.rssBytes), mib(memory.at100.wasmHighWaterBytes), mib(memory.at100.wasmMemoryBytes), mib(memory.at100.arenaInUseBytes)],
      [memory.steps, mib(memory.atEnd.rssBytes), mib(memory.atEnd.wasmHighWaterBytes), mib(memory.atEnd.wasmMemoryBytes), mib(memory.atEnd.arenaInUseBytes)],
    ]));
    console.log(`RSS change step 100 → ${memory.steps}: ${fmt(100 * memory.rssChange, 2)} % (${memory.rssFlat ? 'within' : 'NOT within'} 5 %); WASM high-water and arena use ${memory.wasmFlat ? 'unchanged' : 'CHANGED'}.`);
    acceptance.push([`WASM memory ≤ 512 MiB at batch 100 (${mib(memory.atEnd.wasmMemoryBytes)} MiB)`, memory.atEnd.wasmMemoryBytes <= 512 * 2 ** 20]);
    acceptance.push([`RSS after step ${memory.steps} within 5 % of step 100 (${fmt(100 * memory.rssChange, 2)} %)`, memory.rssFlat]);
  } else {
    console.log('\nMemory phase skipped: add `-- --full` (1,000 training steps) or `-- --memory-steps N` for the WASM high-water mark and RSS.');
  }
  console.log(`\nIssue 9 acceptance (${engineN.threads} threads, this run; noisy when the load average is above 0):`);
  for (const [what, ok] of acceptance) console.log(`- [${ok === undefined ? '?' : ok ? 'x' : ' '}] ${what}`);

  if (args.json) {
    const pick = (op: Op) => {
      const out: Record<string, number | string> = {};
      const put = (k: string, v: number | string | undefined) => void (v !== undefined && (out[k] = typeof v === 'number' ? Number(v.toFixed(1)) : v));
      put('ours', rate(ours, op));
      put('ours_1thread', rate(ours1, op));
      put('ours_gemm_only', rate(oursGemm, op));
      put('tfjs_wasm', tfjs ? (tfjs.unsupported[op] ? 'unsupported' : rate(tfjs, op)) : undefined);
      put('jax_js', rate(bestJax(op), op));
      put('onnxruntime_web', ortWeb ? (ortWeb.unsupported[op] ? 'unsupported' : rate(ortWeb, op)) : undefined);
      if (torch) put('torch', torch.results[TORCH_OP[op]].img_per_s_median);
      return out;
    };
    const netG = (p: PeerResult) => Object.fromEntries(OPS.map((op) => [op, Number((gflops(rate(p, op), op) ?? 0).toFixed(2))]));
    const json = {
      model: 'mnist-cnn', batch: res.batch, threads: engineN.threads,
      results: Object.fromEntries(OPS.map((op) => [op, pick(op)])),
      gemm_gflops: Number(gemmN.toFixed(2)),
      network_gflops: netG(ours),
      gemm_gflops_1thread: Number(gemm1.toFixed(2)),
      /** GFLOP/s of the GEMM in each round (N threads, 1 thread); gemm_gflops* take the fastest round. */
      gemm_gflops_rounds: { threads_n: gemmRounds('gemm_n').map((g) => Number(g.toFixed(2))), threads_1: gemmRounds('gemm_1').map((g) => Number(g.toFixed(2))) },
      network_gflops_1thread: netG(ours1),
      /** Ours at `threads` threads ÷ ours at 1 thread, per quantity (img/s), and the GEMM 512³'s (GFLOP/s), same run. */
      scaling,
      /** Implicit GEMM only (no Winograd): every counted FLOP executed, N threads. */
      network_gflops_gemm_only: netG(oursGemm),
      jax_js_variant: res.jaxBest?.variant ?? jaxKey[0]?.key.replace('jax_js_', ''),
      tfjs_unsupported: tfjs?.unsupported,
      torch: torch ? { version: torch.torch, threads: torch.threads, train_update: 'SGD(lr 0.01)' } : undefined,
      memory,
      load_average: { before: loadBefore, after_peers: loadAfterPeers, end: loadEnd },
      date: new Date().toISOString(),
      peers: res.peers,
    };
    writeFileSync(args.json, JSON.stringify(json, null, 2) + '\n');
    console.log(`\nwrote ${args.json}`);
  }
}

await main();
