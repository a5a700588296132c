// The worker pool (src/wasm/pool.ts): 1 vs 2 vs 3 threads for every kernel, the fixed reduction
// order, the small-call threshold, the thread options, errors (kernel trap, worker death),
// close(), a prompt process exit, and the same checks under Deno.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadEngine } from '../../src/index.ts';
import { Params, type Engine } from '../../src/engine.ts';
import { gemm } from '../../src/kernels/index.ts';
import { chunk } from '../../src/wasm/pool.ts';
import { THREAD_CASES, checkGrowth, checkReductionOrder, checkThreadCases, crashWorker, trapInWorker, uncoveredKernels } from './thread_cases.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs a command in the project root (asynchronously: the test runner's event loop stays free). */
function run(command: string, args: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, timeout: timeoutMs });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
const opened: Engine[] = [];
async function open(options: Parameters<typeof loadEngine>[0]): Promise<Engine> {
  const e = await loadEngine(options);
  opened.push(e);
  return e;
}
afterAll(async () => {
  await Promise.all(opened.map((e) => e.close()));
});

describe('chunking', () => {
  it('covers [0, total) with contiguous chunks that depend only on the thread count', () => {
    for (const total of [0, 1, 2, 3, 7, 100, 101]) for (const T of [1, 2, 3, 8]) {
      let next = 0;
      for (let t = 0; t < T; t++) {
        const [b, e] = chunk(total, T, t);
        expect(b).toBe(next);
        expect(e - b).toBeGreaterThanOrEqual(Math.floor(total / T));
        expect(e - b).toBeLessThanOrEqual(Math.ceil(total / T));
        next = e;
      }
      expect(next).toBe(total);
    }
  });
});

describe('1 vs 2 vs 3 threads, every kernel (simd)', async () => {
  const one = await open({ threads: 1 });
  const two = await open({ threads: 2, minParallelCost: 0 });
  const three = await open({ threads: 3, minParallelCost: 0 });

  it('every kernel has a thread case in thread_cases.ts', () => {
    expect(uncoveredKernels(one)).toEqual([]);
  });

  it(`${THREAD_CASES.length} cases: split-by-output bit-identical, reductions within tolerance, repeat runs identical`, () => {
    expect(one.workerPool).toBeNull();
    expect(two.threads).toBe(2);
    expect(three.threads).toBe(3);
    expect(checkThreadCases([one, two, three])).toEqual([]);
  });

  it('reductions: T threads = the 1-thread chunks summed in thread order, bit for bit', () => {
    expect(checkReductionOrder(one, two)).toEqual([]);
    expect(checkReductionOrder(one, three)).toEqual([]);
  });
});

describe('memory growth', async () => {
  const one = await open({ threads: 1, initialMemoryMiB: 1 });
  const two = await open({ threads: 2, initialMemoryMiB: 1, minParallelCost: 0 });
  it('a worker sees memory grown by the caller just before the call', () => {
    expect(checkGrowth(one, two)).toEqual([]);
  });
});

describe('1 vs 2 threads, scalar twins', async () => {
  const one = await open({ threads: 1, kernels: 'scalar' });
  const two = await open({ threads: 2, kernels: 'scalar', minParallelCost: 0 });
  it('same checks on the __scalar kernels', () => {
    expect(checkThreadCases([one, two])).toEqual([]);
  });
});

describe('small calls run on the calling thread', async () => {
  const e = await open({ threads: 2 });
  it('a call with cost below minParallelCost is not split; above it, or without a cost, it is', () => {
    e.arena.scope(() => {
      const a = e.fromF32(new Float32Array(64).fill(1)), c = e.arena.allocF32(64);
      const p = () => new Params().i32(8).i32(8).i32(8).ptr(a).i32(8).i32(0).ptr(a).i32(8).i32(0).ptr(c).i32(8).i32(0).i32(0);
      const pool = e.workerPool!;
      const s0 = pool.splits;
      e.run('f32_gemm', p(), 8, e.minParallelCost - 1);
      expect(pool.splits).toBe(s0);
      e.run('f32_gemm', p(), 8, e.minParallelCost);
      expect(pool.splits).toBe(s0 + 1);
      e.run('f32_gemm', p(), 8);
      expect(pool.splits).toBe(s0 + 2);
      e.run('f32_gemm', p(), 1); // one part only: nothing to split
      expect(pool.splits).toBe(s0 + 2);
      expect(Array.from(e.toF32(c))).toEqual(new Array(64).fill(8));
    });
  });
});

describe('thread options', () => {
  it.each([0, -1, 1.5, 257, NaN])('threads = %s is rejected, naming the option', async (threads) => {
    await expect(loadEngine({ threads })).rejects.toThrow(/threads must be an integer in \[1, 256\]/);
  });

  it('minParallelCost < 0 is rejected', async () => {
    await expect(loadEngine({ minParallelCost: -1 })).rejects.toThrow(/minParallelCost/);
  });

  it('MULTIROBUST_THREADS sets the default; the option wins over it', async () => {
    const saved = process.env.MULTIROBUST_THREADS;
    try {
      process.env.MULTIROBUST_THREADS = '1';
      const e1 = await open({});
      expect(e1.threads).toBe(1);
      expect(e1.workerPool).toBeNull();
      const e3 = await open({ threads: 3 });
      expect(e3.threads).toBe(3);
      process.env.MULTIROBUST_THREADS = 'two';
      await expect(loadEngine({})).rejects.toThrow(/MULTIROBUST_THREADS/);
    } finally {
      if (saved === undefined) delete process.env.MULTIROBUST_THREADS;
      else process.env.MULTIROBUST_THREADS = saved;
    }
  });

  it('the default is the available parallelism', async () => {
    const os = await import('node:os');
    const saved = process.env.MULTIROBUST_THREADS;
    delete process.env.MULTIROBUST_THREADS;
    try {
      expect((await open({})).threads).toBe(os.availableParallelism());
    } finally {
      if (saved !== undefined) process.env.MULTIROBUST_THREADS = saved;
    }
  });
});

describe('load balancing', () => {
  it('a worker that falls behind leaves its grains to the caller; the result keeps its bits', async () => {
    const one = await open({ threads: 1 });
    const two = await open({ threads: 2, minParallelCost: 0 });
    // A GEMM split by column panels (M < N): 2 grains per thread, 4 in all (src/kernels/gemm.ts).
    const [M, N, K] = [64, 1024, 256]; // ~1 ms a call: long enough for a sleeping worker to wake within it
    const run = (e: Engine) => e.arena.scope(() => {
      const a = e.fromF32(Float32Array.from({ length: M * K }, (_, i) => Math.sin(i))), b = e.fromF32(Float32Array.from({ length: K * N }, (_, i) => Math.cos(i)));
      const c = e.arena.allocF32(M * N);
      gemm(e, { M, N, K, a, b, c });
      return Array.from(e.toF32(c));
    });
    const want = run(one);
    const pool = two.workerPool!;
    expect(run(two)).toEqual(want);
    const before = pool.callerGrains;
    pool.delayNextCallForTest(1, 300);
    expect(run(two)).toEqual(want);
    expect(pool.callerGrains - before).toBe(4);
    // Without the delay the worker takes its share again.
    const again = pool.callerGrains;
    for (let i = 0; i < 20; i++) expect(run(two)).toEqual(want);
    expect(pool.callerGrains - again).toBeLessThan(20 * 4);
  });
});

describe('errors', () => {
  it('a kernel trap in a worker (debug build, out-of-bounds read) throws with the kernel name; the pool keeps working', async () => {
    const e = await open({ threads: 2, build: 'debug', minParallelCost: 0 });
    const { message, afterwards } = trapInWorker(e);
    expect(message).toMatch(/kernel 'f32_bias_add_bwd' failed on worker 1 \(of 2 threads\): RuntimeError: memory access out of bounds/);
    expect(afterwards).toBeNull();
  });

  it('a trap on the calling thread names the kernel too (1 thread)', async () => {
    const e = await open({ threads: 1, build: 'debug' });
    const end = e.memory.buffer.byteLength;
    e.arena.scope(() => {
      const a = e.fromF32(new Float32Array(64));
      expect(() => gemm(e, { M: 8, N: 8, K: 8, a, b: a, c: { ptr: end, length: 64 } })).toThrow(/kernel 'f32_gemm' failed on the calling thread \(of 1 threads\): RuntimeError/);
    });
  });

  it('a worker that dies fails the call within 5 s, naming the kernel and the exit; later calls fail clearly', async () => {
    const e = await open({ threads: 2, minParallelCost: 0 });
    const { message, ms } = crashWorker(e);
    expect(message).toMatch(/failed on worker 1 \(of 2 threads\): worker 1 exited with code 70/);
    expect(ms).toBeLessThan(5000);
    const a = e.fromF32(new Float32Array(64));
    expect(() => gemm(e, { M: 8, N: 8, K: 8, a, b: a, c: e.arena.allocF32(64) })).toThrow(/worker pool is broken \(worker 1 exited with code 70\)/);
  });

  it('a process stopped (SIGSTOP) for longer than the hang limit while it waits for a worker is not taken for a hang', async () => {
    // Regression: the hang check counted wall time, so a paused long training run died with
    // "a worker did not finish kernel … (hung?)" when it was resumed.
    const child = spawn(process.execPath, ['node_modules/vite-node/vite-node.mjs', 'test/wasm/stop_child.ts'], { cwd: ROOT });
    let stdout = '', stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        if (stdout.includes('waiting')) resolve();
      });
      child.on('close', () => reject(new Error(`child exited before waiting: ${stderr}`)));
    });
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGSTOP'); // for 5.5 s: longer than HANG_MS (5 s), shorter than the worker's 7 s delay
    await new Promise((r) => setTimeout(r, 5500));
    child.kill('SIGCONT');
    expect(await exited, stderr).toBe(0);
    expect(stdout).toContain('ok');
  }, 60_000);

  it('a worker that hangs fails the call after 5 s; close() still stops it promptly', async () => {
    const e = await loadEngine({ threads: 2 });
    const t0 = performance.now();
    expect(() => e.workerPool!.hangForTest(1)).toThrow(/did not finish kernel '\(hang test\)' within \d+ ms \(hung\?\)/);
    expect(performance.now() - t0).toBeLessThan(7000);
    const t1 = performance.now();
    await e.close();
    expect(performance.now() - t1).toBeLessThan(2000);
  });

  it('close() stops the workers; calls afterwards throw', async () => {
    const e = await loadEngine({ threads: 2 });
    const a = e.fromF32(new Float32Array(64));
    gemm(e, { M: 8, N: 8, K: 8, a, b: a, c: e.arena.allocF32(64) });
    await e.close();
    expect(() => gemm(e, { M: 8, N: 8, K: 8, a, b: a, c: e.arena.allocF32(64) })).toThrow(/closed engine/);
    await e.close(); // twice is fine
  });
});

describe('processes exit promptly', () => {
  it('Node: a child that runs a 2-thread engine and never closes it exits by itself', async () => {
    const r = await run(`${ROOT}node_modules/.bin/vite-node`, ['test/wasm/exit_child.ts'], 60_000);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const done = /ran on 2 threads in [\d.]+ ms; exiting at ([\d.]+)/.exec(r.stdout);
    expect(done, r.stdout).not.toBeNull();
    // From the child's last line to its exit (vite-node's own teardown included).
    expect(Date.now() - Number(done![1])).toBeLessThan(3000);
  });

  it('Deno: the same thread checks pass, and the process exits by itself', async () => {
    const r = await run(`${ROOT}node_modules/.bin/deno`, ['run', '--allow-read', '--allow-env', 'test/wasm/pool.deno.ts'], 120_000);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(report.failures).toEqual([]);
    expect(report.cases).toBe(THREAD_CASES.length);
    expect(report.trap).toMatch(/kernel 'f32_bias_add_bwd' failed on worker 1 \(of 2 threads\): RuntimeError: memory access out of bounds/);
    expect(report.crash).toMatch(/worker 1 exited with code 70/);
    expect(report.crashMs).toBeLessThan(5000);
  });
});
