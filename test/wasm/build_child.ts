// Child process of load.test.ts: in a fresh process (no default engine loaded before), loads the
// build named by argv[2] ('env' = through MULTIROBUST_BUILD) and prints the build it got.
import { loadEngine } from '../../src/index.ts';
import { gemm } from '../../src/kernels/index.ts';

const arg = process.argv[2];
const e = await loadEngine(arg === 'env' ? { threads: 1 } : { build: arg as 'relaxed', threads: 1 });
const a = e.fromF32(new Float32Array(8 * 8).fill(1)), c = e.arena.allocF32(8 * 8);
gemm(e, { M: 8, N: 8, K: 8, a, b: a, c });
if (e.view(c)[0] !== 8) throw new Error(`gemm on the ${e.build} build gave ${e.view(c)[0]}, expected 8`);
console.log(`build ${e.build}`);
await e.close();
