// Child process of pool.test.ts: a call whose caller waits ~7 s for worker 1 (test-only delay),
// during which the parent stops this whole process (SIGSTOP) for longer than the pool's hang limit.
// The call must still succeed: a paused process is not a hung worker.
import { loadEngine } from '../../src/index.ts';
import { biasBackward } from '../../src/kernels/index.ts';

const e = await loadEngine({ threads: 2, minParallelCost: 0 });
const [rows, cols] = [64, 16];
const dy = e.fromF32(new Float32Array(rows * cols).fill(1)), db = e.arena.allocF32(cols);
biasBackward(e, { dy, db, rows, cols }); // a reduction: static chunks, so worker 1 has rows of its own
e.workerPool!.delayNextCallForTest(1, 7000); // longer than the stop: the worker is still busy when the process resumes
console.log('waiting');
biasBackward(e, { dy, db, rows, cols });
if (e.view(db)[0] !== rows) throw new Error(`wrong result ${e.view(db)[0]}`);
console.log('ok');
await e.close();
