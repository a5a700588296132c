// npm run bench:threads — the worker pool: 1 thread vs 2 threads (the caller + 1 worker) on GEMM
// 512³ and the paper's CNN layers at batch 100, the cost of one dispatch, and the small-call
// crossover behind MIN_PARALLEL_COST (src/wasm/engine.ts). Each 2-thread output is validated
// against the 1-thread output first (bit-identical, or within tolerance for reductions).
import { loadavg } from 'node:os';
import { Bench } from 'tinybench';
import { MIN_PARALLEL_COST } from '../src/wasm/engine.ts';
import { loadEngine } from '../src/wasm/load.ts';
import { fmt, markdownTable, medianMs } from './_util.ts';
import { THREAD_CASES, gemmCase, validateThreadSplit, type KernelCase } from './cases.ts';

const ROUNDS = 5;

/** Square GEMM sizes for the small-call crossover. */
const SMALL = [16, 24, 32, 48, 64, 96, 128];


async function main(): Promise<void> {
  const one = await loadEngine({ threads: 1, initialMemoryMiB: 256 });
  const two = await loadEngine({ threads: 2, initialMemoryMiB: 256, minParallelCost: 0 });
  const engines = { one, two };

  const all = [...THREAD_CASES, ...SMALL.map((n) => gemmCase(`gemm ${n}³`, { M: n, N: n, K: n }))];
  const tasks: [string, () => void][] = [];
  for (const c of all) {
    const runs = { one: c.setup(one), two: c.setup(two) };
    runs.one.run();
    runs.two.run();
    validateThreadSplit(c, runs.two.output(), runs.one.output());
    for (const k of ['one', 'two'] as const) tasks.push([`${c.name}|${k}`, runs[k].run]);
  }
  const pool = two.workerPool!;
  tasks.push(['dispatch round trip (no kernel)', () => pool.ping()]);
  console.error(`validated ${all.length} cases (2 threads vs 1); timing ${ROUNDS} rounds… (load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  // Several short rounds, 1 and 2 threads side by side in each; per task the lowest round median
  // counts: on a shared machine, the round least disturbed by other processes.
  const medians = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: 300, iterations: 3, warmupTime: 50, warmupIterations: 1 });
    for (const [name, fn] of tasks) bench.add(name, fn);
    await bench.run();
    for (const [name] of tasks) medians.set(name, [...(medians.get(name) ?? []), medianMs(bench.getTask(name))]);
  }
  const load = loadavg();
  await Promise.all(Object.values(engines).map((e) => e.close()));
  const ms = (name: string) => Math.min(...medians.get(name)!);
  const spread = (name: string) => Math.max(...medians.get(name)!) / ms(name);

  const gf = (c: KernelCase, k: 'one' | 'two') => c.flops / (ms(`${c.name}|${k}`) * 1e6);
  console.log(`\nbench:threads — ${one.build} build, best of ${ROUNDS} rounds' tinybench medians, ${new Date().toISOString()}, load average after: ${load.map((x) => x.toFixed(2)).join(' ')}`);
  console.log(markdownTable(
    ['kernel (batch 100)', '1 thread GFLOP/s', '2 threads GFLOP/s', 'speed-up', 'round spread 1 thr / 2 thr'],
    THREAD_CASES.map((c) => [
      c.name + (c.reduction ? ' (reduction)' : ''), fmt(gf(c, 'one')), fmt(gf(c, 'two')), `${fmt(gf(c, 'two') / gf(c, 'one'), 2)}×`,
      `${fmt(spread(`${c.name}|one`), 2)} / ${fmt(spread(`${c.name}|two`), 2)}`,
    ]),
  ));

  const pingUs = ms('dispatch round trip (no kernel)') * 1000;
  console.log(`\ndispatch round trip (wake 1 worker, wait for it): ${fmt(pingUs)} µs`);
  console.log(`\nsmall calls: 1 thread vs split (MIN_PARALLEL_COST = ${MIN_PARALLEL_COST.toExponential(1)} flops)`);
  const small = all.slice(THREAD_CASES.length);
  console.log(markdownTable(
    ['call', 'Mflop', '1 thread µs', '2 threads µs', 'speed-up', 'round spread 1 thr / 2 thr'],
    small.map((c) => {
      const t1 = ms(`${c.name}|one`) * 1000, t2 = ms(`${c.name}|two`) * 1000;
      return [c.name, fmt(c.flops / 1e6, 2), fmt(t1), fmt(t2), `${fmt(t1 / t2, 2)}×`, `${fmt(spread(`${c.name}|one`), 2)} / ${fmt(spread(`${c.name}|two`), 2)}`];
    }),
  ));
}

await main();
