// npm run bench:profile [-- --threads N] [--iters N] [--rounds N]
// Where the end-to-end bench's time goes, and where thread scaling is lost: the paper's MNIST CNN at
// batch 100, forward, input gradient and training step (bench/peers/ours.ts), on an engine with 1
// thread and one with N threads (default: available parallelism) in the same process, rounds
// interleaved (1 thread, then N, per quantity per round). Every kernel call is timed (wall clock)
// per call site: kernel name and split size. Per quantity it prints, for each site, ms per batch on
// 1 and N threads, the site's own N-vs-1 scaling and whether its calls were split across threads;
// then the time outside kernels (TS ops, tape, copies) and the serial part of the N-thread time:
// unsplit calls plus time outside kernels (Amdahl's serial fraction). Each engine's figures come
// from its fastest round. Needs an otherwise idle machine (wall time; the header prints the load).
import { availableParallelism, loadavg } from 'node:os';
import { intFlag, parseOrExit, UsageError } from '../src/cli/flags.ts';
import { loadEngine } from '../src/wasm/load.ts';
import type { Engine } from '../src/wasm/engine.ts';
import { fmt, markdownTable } from './_util.ts';
import { BATCH, makeBatch, makeWeights } from './peers/model.ts';
import { ourPeer, type OursPeer } from './peers/ours.ts';

interface Args {
  threads: number;
  iters: number;
  rounds: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { threads: availableParallelism(), iters: 4, rounds: 5 };
  const flags: Record<string, keyof Args> = { '--threads': 'threads', '--iters': 'iters', '--rounds': 'rounds' };
  for (let i = 0; i < argv.length; i++) {
    const key = flags[argv[i]];
    if (!key) throw new UsageError(`unknown argument '${argv[i]}' (flags: --threads N, --iters N, --rounds N)`);
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${argv[i - 1]}: missing value`);
    args[key] = intFlag(key, v, { min: 1 })!;
  }
  return args;
}

/** Per call site ("name [split size]"): wall ms, and whether its calls were split across threads. */
type SiteTimes = Map<string, { ms: number; split: boolean }>;

/**
 * Wraps the engine's dispatch to accumulate wall time per kernel call site: name, split size and,
 * when a pass calls the same kernel with the same split size more than once, which of those calls
 * (#2, #3, …; `restart()` before every pass).
 */
function instrument(engine: Engine): { times: SiteTimes; restart: () => void } {
  const times: SiteTimes = new Map();
  const seen = new Map<string, number>();
  type Dispatch = (name: string, fn: unknown, params: number, total: number, ...rest: unknown[]) => void;
  const target = engine as unknown as { dispatch: Dispatch };
  const dispatch = target.dispatch.bind(engine);
  target.dispatch = (name, fn, params, total, ...rest) => {
    const splits = engine.workerPool?.splits ?? 0;
    const t0 = performance.now();
    dispatch(name, fn, params, total, ...rest);
    const ms = performance.now() - t0;
    const base = `${name} [${total}]`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    const key = n === 1 ? base : `${base} #${n}`;
    const site = times.get(key) ?? { ms: 0, split: false };
    site.ms += ms;
    site.split ||= (engine.workerPool?.splits ?? 0) > splits;
    times.set(key, site);
  };
  return { times, restart: () => seen.clear() };
}

interface Profile {
  total: number;
  sites: SiteTimes;
  /** Of the split calls' time: the caller waiting for the workers after its own chunk. */
  waitedMs: number;
}

type Quantity = 'forward' | 'input gradient' | 'train step';
const QUANTITIES: Quantity[] = ['forward', 'input gradient', 'train step'];

interface Side {
  engine: Engine;
  peer: OursPeer;
  times: SiteTimes;
  restart: () => void;
  best: Map<Quantity, Profile>;
}

async function side(threads: number): Promise<Side> {
  const engine = await loadEngine({ threads });
  const { times, restart } = instrument(engine);
  return { engine, peer: await ourPeer(makeWeights(), { engine }), times, restart, best: new Map() };
}

const args = parseOrExit('bench:profile', () => parseArgs(process.argv.slice(2)));
const sides = [await side(1)];
if (args.threads > 1) sides.push(await side(args.threads));
const { x, y } = makeBatch();
const call = (s: Side, q: Quantity) => (s.restart(), q === 'forward' ? s.peer.forward(x) : q === 'input gradient' ? s.peer.inputGrad(x, y) : s.peer.trainStep(x, y));

const nT = sides[sides.length - 1].engine.threads;
console.log(`bench:profile — MNIST CNN, batch ${BATCH}, 1 vs ${nT} thread(s) in one process, ${sides[0].engine.build} build, wall time, fastest of ${args.rounds} interleaved rounds of ${args.iters} calls per quantity and engine; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const s of sides) for (const q of QUANTITIES) for (let i = 0; i < 3; i++) await call(s, q); // warm-up
for (let round = 0; round < args.rounds; round++) {
  for (const q of QUANTITIES) {
    for (const s of sides) {
      s.times.clear();
      const pool = s.engine.workerPool;
      const waited0 = pool?.waitedMs ?? 0;
      const t0 = performance.now();
      for (let i = 0; i < args.iters; i++) await call(s, q);
      const total = (performance.now() - t0) / args.iters;
      const waitedMs = ((pool?.waitedMs ?? 0) - waited0) / args.iters;
      const best = s.best.get(q);
      if (!best || total < best.total) s.best.set(q, { total, waitedMs, sites: new Map([...s.times].map(([k, v]) => [k, { ms: v.ms / args.iters, split: v.split }])) });
    }
  }
}

const ratio = (one: number, n: number) => (n > 0 ? `${fmt(one / n, 2)}×` : '—');
const pct = (part: number, whole: number) => `${fmt((100 * part) / whole)} %`;
for (const q of QUANTITIES) {
  const one = sides[0].best.get(q)!;
  const many = sides[sides.length - 1].best.get(q)!;
  const keys = [...new Set([...one.sites.keys(), ...many.sites.keys()])].sort((a, b) => (one.sites.get(b)?.ms ?? 0) - (one.sites.get(a)?.ms ?? 0));
  const rows: (string | number)[][] = [];
  // Split calls on N threads, and the same call sites on 1 thread; the rest of the N-thread time is serial.
  let splitOne = 0, splitMany = 0;
  for (const k of keys) {
    const a = one.sites.get(k)?.ms ?? 0, b = many.sites.get(k)?.ms ?? 0;
    const split = many.sites.get(k)?.split ?? false;
    if (split) {
      splitOne += a;
      splitMany += b;
    }
    rows.push([k, split ? 'yes' : 'no', fmt(a, 2), fmt(b, 2), ratio(a, b), pct(b, many.total)]);
  }
  const inKernels = (p: Profile) => [...p.sites.values()].reduce((sum, v) => sum + v.ms, 0);
  const outOne = one.total - inKernels(one), outMany = many.total - inKernels(many);
  rows.push(['(outside kernels)', 'no', fmt(outOne, 2), fmt(outMany, 2), ratio(outOne, outMany), pct(outMany, many.total)]);
  rows.push(['**total**', '', fmt(one.total, 2), fmt(many.total, 2), `**${ratio(one.total, many.total)}**`, `${fmt((BATCH * 1000) / one.total)} → ${fmt((BATCH * 1000) / many.total)} img/s`]);
  console.log(`\n### ${q}\n\n${markdownTable(['kernel [split size]', `split (${nT} threads)`, 'ms / batch, 1 thread', `ms / batch, ${nT} threads`, 'scaling', `share of ${nT}-thread time`], rows)}`);
  if (sides.length > 1) {
    const serial = many.total - splitMany;
    console.log(`\nserial part at ${nT} threads (unsplit calls + outside kernels): ${fmt(serial, 2)} ms = ${pct(serial, many.total)} of the time; the split calls scale ${ratio(splitOne, splitMany)} (${fmt(splitOne, 2)} → ${fmt(splitMany, 2)} ms), of which the caller waited ${fmt(many.waitedMs, 2)} ms for the workers after its own chunks (imbalance, late starts).`);
  }
}
for (const s of sides) {
  s.peer.dispose();
  await s.engine.close();
}
