// Deno side of pool.test.ts (run by it: deno run --allow-read --allow-env test/wasm/pool.deno.ts).
// Runs the thread checks of thread_cases.ts, a worker trap and a worker death, prints one JSON
// line, and exits without closing its engines (the process must still end by itself).
import { loadEngine } from '../../src/index.ts';
import { THREAD_CASES, checkGrowth, checkReductionOrder, checkThreadCases, crashWorker, trapInWorker, uncoveredKernels } from './thread_cases.ts';

const one = await loadEngine({ threads: 1 });
const two = await loadEngine({ threads: 2, minParallelCost: 0 });
const three = await loadEngine({ threads: 3, minParallelCost: 0 });
const failures = [
  ...uncoveredKernels(one).map((k) => `kernel ${k} has no thread case`),
  ...checkThreadCases([one, two, three]),
  ...checkReductionOrder(one, two),
  ...checkReductionOrder(one, three),
  ...checkGrowth(await loadEngine({ threads: 1, initialMemoryMiB: 1 }), await loadEngine({ threads: 2, initialMemoryMiB: 1, minParallelCost: 0 })),
];
const trap = trapInWorker(await loadEngine({ threads: 2, build: 'debug', minParallelCost: 0 }));
if (trap.afterwards) failures.push(`after the trap: ${trap.afterwards}`);
const crash = crashWorker(await loadEngine({ threads: 2, minParallelCost: 0 }));
console.log(JSON.stringify({ failures, cases: THREAD_CASES.length, trap: trap.message, crash: crash.message, crashMs: crash.ms }));
