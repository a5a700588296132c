// Child process of pool.test.ts: runs a 2-thread engine, never closes it, and must exit by itself.
import { loadEngine } from '../../src/index.ts';
import { gemm } from '../../src/kernels/index.ts';

const t0 = performance.now();
const e = await loadEngine({ threads: 2, minParallelCost: 0 });
const a = e.fromF32(new Float32Array(64 * 64).fill(1)), c = e.arena.allocF32(64 * 64);
gemm(e, { M: 64, N: 64, K: 64, a, b: a, c });
if (e.workerPool?.splits !== 1 || e.view(c)[0] !== 64) throw new Error('the call did not run on 2 threads');
console.log(`ran on ${e.threads} threads in ${(performance.now() - t0).toFixed(1)} ms; exiting at ${Date.now()}`);
