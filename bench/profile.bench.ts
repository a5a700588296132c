// npm run bench:profile [-- --threads N] [--iters N]
// Where the end-to-end bench's time goes: the paper's MNIST CNN at batch 100, forward, input
// gradient and training step (bench/peers/ours.ts), with every kernel call timed. Prints, per
// quantity, ms per batch for each kernel, the total in kernels and the rest (TS ops, tape, copies).
// One thread: process CPU time; more threads: wall time (needs an idle machine). Each quantity's
// figures come from its fastest round.
import { loadavg } from 'node:os';
import { intFlag, parseOrExit, UsageError } from '../src/cli/flags.ts';
import { loadEngine } from '../src/wasm/load.ts';
import type { Engine } from '../src/wasm/engine.ts';
import { fmt, markdownTable } from './_util.ts';
import { BATCH, makeBatch, makeWeights } from './peers/model.ts';
import { ourPeer } from './peers/ours.ts';

interface Args {
  threads: number;
  iters: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { threads: 1, iters: 4 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag !== '--threads' && flag !== '--iters') throw new UsageError(`unknown argument '${flag}' (flags: --threads N, --iters N)`);
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${flag}: missing value`);
    args[flag === '--threads' ? 'threads' : 'iters'] = intFlag(flag.slice(2), v, { min: 1 })!;
  }
  return args;
}

/** Wraps the engine's dispatch to accumulate wall time per kernel call site: name and split size (ms). */
function instrument(engine: Engine, clock: () => number): Map<string, number> {
  const times = new Map<string, number>();
  type Dispatch = (name: string, fn: unknown, params: number, total: number, ...rest: unknown[]) => void;
  const target = engine as unknown as { dispatch: Dispatch };
  const dispatch = target.dispatch.bind(engine);
  target.dispatch = (name, fn, params, total, ...rest) => {
    const t0 = clock();
    dispatch(name, fn, params, total, ...rest);
    const key = `${name} [${total}]`;
    times.set(key, (times.get(key) ?? 0) + clock() - t0);
  };
  return times;
}

const args = parseOrExit('bench:profile', () => parseArgs(process.argv.slice(2)));
const engine = await loadEngine({ threads: args.threads });
// One thread: process CPU time (time descheduled by a busy host does not count); more: wall time.
const clock = engine.threads === 1 ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } : () => performance.now();
const times = instrument(engine, clock);
const peer = await ourPeer(makeWeights(), { engine });
const { x, y } = makeBatch();
const quantities = {
  forward: () => peer.forward(x),
  'input gradient': () => peer.inputGrad(x, y),
  'train step': () => peer.trainStep(x, y),
} as const;

const ROUNDS = 5;
console.log(`bench:profile — MNIST CNN, batch ${BATCH}, ${engine.threads} thread(s), ${engine.build} build, ${engine.threads === 1 ? 'CPU' : 'wall'} time, fastest of ${ROUNDS} rounds of ${args.iters} calls per quantity; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const [label, fn] of Object.entries(quantities)) {
  for (let i = 0; i < 3; i++) await fn(); // warm-up
  let best: { total: number; kernels: Map<string, number> } | null = null;
  for (let round = 0; round < ROUNDS; round++) {
    times.clear();
    const t0 = clock();
    for (let i = 0; i < args.iters; i++) await fn();
    const total = (clock() - t0) / args.iters;
    if (!best || total < best.total) best = { total, kernels: new Map([...times].map(([k, ms]) => [k, ms / args.iters])) };
  }
  const { total, kernels } = best!;
  const rows = [...kernels.entries()].sort((a, b) => b[1] - a[1]).map(([name, ms]) => [name, fmt(ms, 2), `${fmt((100 * ms) / total)} %`]);
  const inKernels = [...kernels.values()].reduce((a, b) => a + b, 0);
  rows.push(['(outside kernels)', fmt(total - inKernels, 2), `${fmt((100 * (total - inKernels)) / total)} %`]);
  rows.push(['**total**', fmt(total, 2), `${fmt((BATCH * 1000) / total)} img/s`]);
  console.log(`\n### ${label}\n\n${markdownTable(['kernel [split size]', 'ms / batch', 'share'], rows)}`);
}
peer.dispose();
await engine.close();
