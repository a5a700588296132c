// Issue 30's defect: the default thread count was os.availableParallelism(), which ignores a
// container's CPU quota (cgroup cpu.max), so on a 2-CPU container on a large host the pool started one
// spinning worker per host core; and a service that must idle at zero CPU could not turn the spin off.
// The cgroup files are read through an injected reader here (this machine's own quota is whatever it is).
import { afterAll, describe, expect, it } from 'vitest';
import { loadEngine, type Engine } from '../../src/index.ts';
import { gemm } from '../../src/kernels/gemm.ts';
import { cpuQuota, defaultThreads, SPIN_MS } from '../../src/wasm/pool.ts';

/** A reader over a fake /sys/fs/cgroup: path → contents (absent: null, as a missing file). */
const files = (fs: Record<string, string>) => (path: string) => fs[path] ?? null;

const opened: Engine[] = [];
afterAll(async () => {
  await Promise.all(opened.map((e) => e.close()));
});

describe('the default thread count respects the CPU quota', () => {
  it('cpuQuota reads cgroup v2 cpu.max and v1 cpu.cfs_quota_us / cpu.cfs_period_us: ⌈quota / period⌉, or null without a quota', () => {
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': '200000 100000\n' }))).toBe(2);
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' }))).toBe(2);
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': '50000 100000\n' }))).toBe(1);
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBe(null);
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '300000\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }))).toBe(3);
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }))).toBe(null);
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'garbage' }))).toBe(null);
    expect(cpuQuota(files({}))).toBe(null);
  });

  it('a container with a 1-CPU quota on a 64-core host defaults to 1 thread; no quota: all cores', async () => {
    expect(await defaultThreads({ readFile: files({ '/sys/fs/cgroup/cpu.max': '100000 100000\n' }), parallelism: 64 })).toBe(1);
    expect(await defaultThreads({ readFile: files({ '/sys/fs/cgroup/cpu.max': '200000 100000\n' }), parallelism: 64 })).toBe(2);
    expect(await defaultThreads({ readFile: files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }), parallelism: 64 })).toBe(64);
    expect(await defaultThreads({ readFile: files({ '/sys/fs/cgroup/cpu.max': '800000 100000\n' }), parallelism: 2 })).toBe(2);
  });

  it('MULTIROBUST_SPIN_MS sets how long waiting threads spin (0: they sleep at once); bad values are refused', async () => {
    const before = process.env.MULTIROBUST_SPIN_MS;
    try {
      delete process.env.MULTIROBUST_SPIN_MS;
      const spinning = await loadEngine({ threads: 2 });
      opened.push(spinning);
      expect(spinning.workerPool!.spinMs).toBe(SPIN_MS);
      process.env.MULTIROBUST_SPIN_MS = '0';
      const idle = await loadEngine({ threads: 2 });
      opened.push(idle);
      expect(idle.workerPool!.spinMs).toBe(0);
      // Sleeping at once changes no result: a split GEMM gives the same bits.
      const M = 128, K = 128, N = 128;
      const data = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i));
      const product = (e: Engine) => e.arena.scope(() => {
        const a = e.arena.fromF32(data), c = e.arena.allocF32(M * N);
        const splits = e.workerPool!.splits;
        gemm(e, { M, N, K, a, b: a, c });
        expect(e.workerPool!.splits, 'the call was split').toBe(splits + 1);
        return e.view(c).slice();
      });
      expect(product(idle)).toEqual(product(spinning));
      expect((await loadEngine({ threads: 2, spinMs: 2 }).then((e) => (opened.push(e), e))).workerPool!.spinMs).toBe(2);
      process.env.MULTIROBUST_SPIN_MS = 'soon';
      await expect(loadEngine({ threads: 2 })).rejects.toThrow(/spinMs must be a number ≥ 0 \(MULTIROBUST_SPIN_MS\), got 'soon'/);
    } finally {
      if (before === undefined) delete process.env.MULTIROBUST_SPIN_MS;
      else process.env.MULTIROBUST_SPIN_MS = before;
    }
  });
});
