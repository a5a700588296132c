// The worker pool: threads − 1 workers (worker.js), each with its own instance of the kernel
// module on the engine's one shared memory, plus the calling thread, which runs chunk 0 itself.
//
// A reduction splits [0, total) into `threads` contiguous chunks by thread index only
// (chunk t = [⌊total·t/T⌋, ⌊total·(t+1)/T⌋)), so its partial sums depend on the thread count, never
// on timing. Any other call is cut into `grains` contiguous grains the same way (a number fixed by
// the call and the thread count), which the threads take in turn from a shared counter: a thread
// that falls behind (descheduled by a busy host, woken late) leaves its grains to the others. Parts
// of such calls are independent (the kernel contract), so which thread runs a grain cannot change
// a bit of the result.
// Signalling is on a control block in shared memory (messages would need the calling thread to
// return to its event loop, and calls are synchronous): the caller writes the call into the block,
// bumps `gen` and wakes the workers, runs its part, then waits on `pending` until every worker has
// counted itself done. A waiting thread spins on the block for SPIN_MS (loadEngine's spinMs,
// MULTIROBUST_SPIN_MS; 0 = sleep at once, for a service that must idle at zero CPU) before it sleeps
// in Atomics.wait (waking a sleeping thread costs ~60 µs here); blocking the main thread is allowed
// in Node and Deno.
// Errors: a worker catches a kernel trap and writes its message into its slot; a worker that dies
// marks its slot dead from its exit handler, so the caller never waits for it; a worker that
// neither finishes nor dies within HANG_MS (+ 50× the caller's own chunk time) of waiting counts as
// hung (time in which the whole process was stopped does not count).
// After a death or a hang the pool is broken and every later call throws (load a new engine).
import { Arena, type F32Buf } from './memory.ts';
import type { KernelFn } from './engine.ts';

type WorkerLike = {
  on(event: string, fn: (arg: unknown) => void): unknown;
  once(event: string, fn: (arg: unknown) => void): unknown;
  unref(): void;
  terminate(): Promise<number>;
};
type WorkerCtor = new (url: URL, options: { workerData: unknown }) => WorkerLike;

/** Control block layout, in Int32 fields (shared with worker.js through workerData). */
export const LAYOUT = {
  // header
  gen: 0, pending: 1, command: 2, kernel: 3, params: 4, reduce: 5, crashSlot: 6,
  // grains of a call that is not a reduction (0: static chunks in the slots), its total, the next free grain
  grains: 7, total: 8, nextGrain: 9,
  // test-only: the worker slot that sleeps delayMs before its part of the next call (0: none)
  delaySlot: 10, delayMs: 11,
  header: 12,
  // one slot per thread index (slot 0, the caller's, is unused)
  begin: 0, end: 1, scratch: 2, partial: 3, status: 4, messageLength: 5, message: 8,
  messageBytes: 1024,
  slotInts: 8 + 1024 / 4,
  totalInts: 0,
  // commands and statuses
  run: 1, exit: 2, crash: 3, noop: 4, hang: 5,
  ok: 0, error: 1, dead: 2,
};

/**
 * How long a waiting thread spins on the control block before it sleeps in Atomics.wait (a worker
 * waiting for the next call, the caller waiting for the workers), ms.
 * NOTE: on this project's 2-vCPU VM a sleeping thread took ~50–65 µs to wake (futex wake of a
 * halted vCPU), so a split call cost ~65 µs more than its work and every GEMM up to 4 Mflop ran
 * slower on 2 threads than on 1 (`npm run bench:threads`, small calls). The calls of a training step
 * or an attack step come a few µs to ~0.1 ms apart, so a short spin catches nearly all of them and
 * costs an idle core at most this long per burst. A pool with more threads than cores does not spin
 * (a spinning thread would hold the core the thread it waits for needs).
 */
export const SPIN_MS = 0.5;

/**
 * Grains per thread of a call that is not a reduction (pool.ts header). More grains even out a
 * thread that falls behind; each grain is one more kernel entry (and, for a GEMM split by rows,
 * one more packing of B, so the GEMM asks for one grain per thread there).
 */
export const GRAINS_PER_THREAD = 4;

/** Time a worker may take beyond the caller's own chunk before it counts as hung. */
const HANG_MS = 5000;
/** The caller re-checks the workers at least this often while it waits, ms. */
const WAIT_SLICE_MS = 500;
const STARTUP_MS = 30_000;

const warned = new Set<string>();
/** console.warn, once per message per process. */
export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(message);
}

/** Reads a small file; null when it does not exist or cannot be read. */
export type FileReader = (path: string) => string | null;

/**
 * The CPU quota of this process's container, in whole CPUs (⌈quota / period⌉), or null without one:
 * cgroup v2's /sys/fs/cgroup/cpu.max ("200000 100000"; "max …" = none), else cgroup v1's
 * /sys/fs/cgroup/cpu/cpu.cfs_quota_us (−1 = none) over cpu.cfs_period_us.
 */
export function cpuQuota(readFile: FileReader): number | null {
  const whole = (quota: number, period: number) => (quota > 0 && period > 0 ? Math.max(1, Math.ceil(quota / period)) : null);
  const v2 = readFile('/sys/fs/cgroup/cpu.max');
  if (v2 !== null) {
    const [quota, period] = v2.trim().split(/\s+/);
    return /^\d+$/.test(quota ?? '') && /^\d+$/.test(period ?? '') ? whole(Number(quota), Number(period)) : null;
  }
  const quota = readFile('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'), period = readFile('/sys/fs/cgroup/cpu/cpu.cfs_period_us');
  if (quota === null || period === null) return null;
  return whole(Number(quota.trim()), Number(period.trim()));
}

/**
 * The default thread count: the available parallelism (os.availableParallelism() in Node and Deno),
 * capped by the container's CPU quota (cpuQuota: a 2-CPU container on a 64-core host gets 2, not
 * 64); in a browser navigator.hardwareConcurrency; else 1. `probe` replaces the file reader and the
 * parallelism (tests).
 */
export async function defaultThreads(probe: { readFile?: FileReader; parallelism?: number } = {}): Promise<number> {
  let os: typeof import('node:os') | null = null, fs: typeof import('node:fs') | null = null;
  try {
    os = await import('node:os');
    fs = await import('node:fs');
  } catch {
    // A browser: no node:os, no cgroups.
  }
  let cores: number;
  if (probe.parallelism !== undefined) cores = probe.parallelism;
  else if (os) cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  else cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  const read: FileReader | null = probe.readFile ?? (fs ? (path) => {
    try {
      return fs!.readFileSync(path, 'utf8');
    } catch {
      return null;
    }
  } : null);
  const quota = read ? cpuQuota(read) : null;
  return Math.max(1, Math.min(cores, quota ?? Infinity));
}

/** Chunk t of [0, total) split into `threads` parts. */
export function chunk(total: number, threads: number, t: number): [number, number] {
  return [Math.floor((total * t) / threads), Math.floor((total * (t + 1)) / threads)];
}

export interface PoolInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  arena: Arena;
  threads: number;
  isa: string;
  /** Kernel base names in table order (a call names its kernel by index). */
  names: string[];
  /** Spin before sleeping, ms (default: SPIN_MS, or 0 when `threads` exceeds the default thread count; 0 = sleep at once). */
  spinMs?: number;
}

/** Per-thread regions: thread t uses ptr + t·stride. */
export interface Regions {
  ptr: number;
  stride: number;
}

/**
 * In a browser: a worker_threads-shaped wrapper around module Web Workers (the init goes in the
 * first message, worker.js), or why there can be none. Threads need a cross-origin-isolated page
 * (Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp):
 * elsewhere the shared memory cannot be posted to a worker. The caller must itself run in a
 * dedicated Worker, since a page's main thread may not block in Atomics.wait.
 */
function webWorkerCtor(): WorkerCtor | string {
  const g = globalThis as { Worker?: new (url: URL, o: { type: 'module' }) => WebWorker; crossOriginIsolated?: boolean };
  if (typeof g.Worker !== 'function') return 'worker threads are unavailable in this runtime';
  if (g.crossOriginIsolated === false) return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp), so workers cannot share the memory';
  const WebWorkerCtor = g.Worker;
  return class implements WorkerLike {
    private readonly w: WebWorker;
    constructor(url: URL, options: { workerData: unknown }) {
      this.w = new WebWorkerCtor(url, { type: 'module' });
      this.w.postMessage(options.workerData);
    }
    on(event: string, fn: (arg: unknown) => void): unknown {
      if (event === 'message') this.w.addEventListener('message', (e) => fn((e as MessageEvent).data));
      else if (event === 'error') this.w.addEventListener('error', (e) => fn(new Error((e as ErrorEvent).message)));
      return this; // no 'exit' event in browsers
    }
    once(event: string, fn: (arg: unknown) => void): unknown {
      if (event === 'message') this.w.addEventListener('message', (e) => fn((e as MessageEvent).data), { once: true });
      else if (event === 'error') this.w.addEventListener('error', (e) => fn(new Error((e as ErrorEvent).message || 'worker script failed to load')), { once: true });
      return this;
    }
    unref(): void {}
    async terminate(): Promise<number> {
      this.w.terminate();
      return 0;
    }
  } as unknown as WorkerCtor;
}

type WebWorker = { postMessage(m: unknown): void; addEventListener(type: string, fn: (e: unknown) => void, o?: { once: boolean }): void; terminate(): void };

export class WorkerPool {
  readonly threads: number;
  /** Calls split across the threads so far (tests check that a call really was split). */
  splits = 0;
  /** Wall ms the caller spent waiting for workers after its own chunk, summed over calls (imbalance; bench:profile). */
  waitedMs = 0;
  /** Grains the calling thread ran itself, summed over calls (tests of the load balancing). */
  callerGrains = 0;
  private readonly ctl: Int32Array;
  private readonly memory: WebAssembly.Memory;
  private readonly workers: WorkerLike[];
  private broken: string | null = null;
  private closed = false;

  /** How long a waiting thread spins before it sleeps, ms (SPIN_MS). */
  readonly spinMs: number;

  private constructor(threads: number, memory: WebAssembly.Memory, ctl: Int32Array, workers: WorkerLike[], spinMs: number) {
    this.threads = threads;
    this.spinMs = spinMs;
    this.memory = memory;
    this.ctl = ctl;
    this.workers = workers;
  }

  /**
   * Starts threads − 1 workers and waits until each has instantiated the module.
   * Returns null (after one warning) where worker_threads is unavailable.
   */
  static async start(init: PoolInit): Promise<WorkerPool | null> {
    let Worker: WorkerCtor;
    try {
      ({ Worker } = (await import('node:worker_threads')) as unknown as { Worker: WorkerCtor });
    } catch (err) {
      const web = webWorkerCtor();
      if (typeof web === 'string') {
        warnOnce(`multirobust: ${web}; running single-threaded`);
        return null;
      }
      Worker = web;
    }
    const L = LAYOUT;
    const totalInts = L.header + init.threads * L.slotInts;
    const control = init.arena.alloc(totalInts * 4, false);
    const ctl = new Int32Array(init.memory.buffer, control, totalInts);
    ctl.fill(0);
    const layout = { ...L, totalInts };
    const spinMs = init.spinMs ?? (init.threads <= (await defaultThreads()) ? SPIN_MS : 0);
    const url = new URL('./worker.js', import.meta.url);
    const workers: WorkerLike[] = [];
    const ready: Promise<void>[] = [];
    for (let slot = 1; slot < init.threads; slot++) {
      const w = new Worker(url, {
        workerData: { module: init.module, memory: init.memory, control, slot, names: init.names, isa: init.isa, gen: 0, layout, spinMs },
      });
      workers.push(w);
      ready.push(
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`multirobust: worker ${slot} did not start within ${STARTUP_MS / 1000} s`)), STARTUP_MS);
          w.once('message', () => {
            clearTimeout(timer);
            resolve();
          });
          w.once('error', (err) => {
            clearTimeout(timer);
            reject(new Error(`multirobust: worker ${slot} failed to start: ${(err as Error)?.message ?? err}`));
          });
          w.once('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`multirobust: worker ${slot} exited with code ${code} while starting`));
          });
        }),
      );
      // Errors after start are reported through the control block; keep them from crashing the process.
      w.on('error', () => {});
    }
    try {
      await Promise.all(ready);
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      init.arena.free(control);
      throw err;
    }
    for (const w of workers) w.unref();
    return new WorkerPool(init.threads, init.memory, ctl, workers, spinMs);
  }

  /**
   * Runs `fn` over [0, total) on all threads, each with its scratch region scratch.ptr + t·scratch.stride.
   * A reduction: thread t takes chunk t and writes its partial to `out` (t = 0) or
   * partials.ptr + (t−1)·partials.stride, which are then summed into `out` in thread order.
   * Otherwise: min(total, grainsPerThread·threads) grains, taken in turn by whichever thread is free.
   * Throws with the kernel's name on any failure.
   */
  parallelFor(name: string, kernel: number, fn: KernelFn, params: number, total: number, scratch: Regions, reduce: { out: F32Buf; partials: Regions } | null, grainsPerThread = GRAINS_PER_THREAD): void {
    this.splits++;
    const grains = reduce ? 0 : Math.min(total, Math.max(1, grainsPerThread) * this.threads);
    this.post(LAYOUT.run, { kernel, params, total, scratch, partials: reduce?.partials ?? null, grains });
    let callerError: unknown = null;
    const t0 = performance.now();
    try {
      if (reduce) {
        const [b0, e0] = chunk(total, this.threads, 0);
        if (b0 < e0) fn(params, b0, e0, scratch.ptr, reduce.out.ptr);
        else new Float32Array(this.memory.buffer, reduce.out.ptr, reduce.out.length).fill(0);
      } else {
        for (let g = Atomics.add(this.ctl, LAYOUT.nextGrain, 1); g < grains; g = Atomics.add(this.ctl, LAYOUT.nextGrain, 1)) {
          const [b, e] = chunk(total, grains, g);
          fn(params, b, e, scratch.ptr);
          this.callerGrains++;
        }
      }
    } catch (err) {
      callerError = err;
    }
    const t1 = performance.now();
    this.wait(name, t1 - t0);
    this.waitedMs += performance.now() - t1;
    const workerError = this.collectErrors(name);
    if (callerError) throw kernelError(name, 0, this.threads, callerError);
    if (workerError) throw workerError;
    if (reduce) this.sumPartials(total, reduce.out, reduce.partials);
  }

  /** Wakes every worker with a no-op call and waits for all of them (to measure dispatch cost). */
  ping(): void {
    this.post(LAYOUT.noop, null);
    this.wait('(ping)', 0);
  }

  /** Test-only: makes worker `slot` die (process.exit) at the next call. */
  crashForTest(slot: number): void {
    this.post(LAYOUT.crash, null, slot);
    this.wait('(crash test)', 0);
  }

  /** Test-only: worker `slot` sleeps `ms` before its part of the next kernel call (a descheduled worker). */
  delayNextCallForTest(slot: number, ms: number): void {
    this.ctl[LAYOUT.delayMs] = ms;
    Atomics.store(this.ctl, LAYOUT.delaySlot, slot);
  }

  /** Test-only: makes worker `slot` block for a minute at the next call (the caller gives up after HANG_MS). */
  hangForTest(slot: number): void {
    this.post(LAYOUT.hang, null, slot);
    this.wait('(hang test)', 0);
  }

  /** Stops the workers; the pool cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.broken) {
      this.ctl[LAYOUT.command] = LAYOUT.exit;
      Atomics.add(this.ctl, LAYOUT.gen, 1);
      Atomics.notify(this.ctl, LAYOUT.gen);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private post(command: number, call: { kernel: number; params: number; total: number; scratch: Regions; partials: Regions | null; grains: number } | null, crashSlot = 0): void {
    if (this.closed) throw new Error('multirobust: this engine was closed');
    if (this.broken) throw new Error(`multirobust: the worker pool is broken (${this.broken}); load a new engine`);
    const L = LAYOUT;
    const ctl = this.ctl;
    ctl[L.command] = command;
    ctl[L.crashSlot] = crashSlot;
    ctl[L.grains] = 0;
    if (call) {
      ctl[L.kernel] = call.kernel;
      ctl[L.params] = call.params;
      ctl[L.reduce] = call.partials ? 1 : 0;
      ctl[L.grains] = call.grains;
      ctl[L.total] = call.total;
      Atomics.store(ctl, L.nextGrain, 0);
      for (let t = 1; t < this.threads; t++) {
        const s = L.header + t * L.slotInts;
        const [b, e] = chunk(call.total, this.threads, t);
        ctl[s + L.begin] = b;
        ctl[s + L.end] = e;
        ctl[s + L.scratch] = call.scratch.ptr + t * call.scratch.stride;
        ctl[s + L.partial] = call.partials ? call.partials.ptr + (t - 1) * call.partials.stride : 0;
      }
    }
    Atomics.store(ctl, L.pending, this.threads - 1);
    Atomics.add(ctl, L.gen, 1);
    Atomics.notify(ctl, L.gen);
  }

  /**
   * Blocks until every worker is done, one has died, or one hangs: HANG_MS (+ 50× the caller's own
   * part) of waiting in which the process ran. Waiting is counted slice by slice, so that a pause of
   * the whole process (which stops the workers as well) is not taken for a hung worker.
   */
  private wait(name: string, callerMs: number): void {
    const L = LAYOUT;
    const ctl = this.ctl;
    const limit = HANG_MS + 50 * callerMs;
    const t0 = performance.now();
    // Spin first (SPIN_MS): the workers usually finish within microseconds of the caller.
    // The clock is read every 1024 turns only: each read allocates (a heap number), and reading it
    // every turn made ~9 MB of garbage per training step.
    for (let turn = 1; this.spinMs > 0 && Atomics.load(ctl, L.pending) !== 0; turn++) {
      if ((turn & 1023) === 0 && performance.now() - t0 >= this.spinMs) break;
    }
    let waited = 0, last = t0;
    for (;;) {
      const pending = Atomics.load(ctl, L.pending);
      for (let t = 1; t < this.threads; t++) {
        if (Atomics.load(ctl, L.header + t * L.slotInts + L.status) === L.dead) {
          this.broken = this.message(t);
          throw kernelError(name, t, this.threads, this.broken);
        }
      }
      if (pending === 0) return;
      // Time the whole process was stopped (SIGSTOP, a suspended VM, a long deschedule) stopped the
      // workers too: a step of this loop longer than one wait slice plus slack counts as one slice.
      const now = performance.now();
      waited += Math.min(now - last, WAIT_SLICE_MS + 250);
      last = now;
      if (waited > limit) {
        this.broken = `a worker did not finish kernel '${name}' within ${Math.round(waited)} ms (hung?)`;
        throw new Error(`multirobust: ${this.broken}`);
      }
      Atomics.wait(ctl, L.pending, pending, Math.min(WAIT_SLICE_MS, limit - waited + 1));
    }
  }

  /** The first worker error of the last call, if any; clears every worker's error status. */
  private collectErrors(name: string): Error | null {
    const L = LAYOUT;
    let first: Error | null = null;
    for (let t = 1; t < this.threads; t++) {
      const status = L.header + t * L.slotInts + L.status;
      if (Atomics.load(this.ctl, status) === L.error) {
        first ??= kernelError(name, t, this.threads, this.message(t));
        Atomics.store(this.ctl, status, L.ok);
      }
    }
    return first;
  }

  private message(t: number): string {
    const s = LAYOUT.header + t * LAYOUT.slotInts;
    const n = this.ctl[s + LAYOUT.messageLength];
    const bytes = new Uint8Array(this.ctl.buffer, this.ctl.byteOffset + (s + LAYOUT.message) * 4, n).slice();
    return new TextDecoder().decode(bytes);
  }

  /** out += partial of thread 1, then thread 2, …: a fixed order, in f32. Empty chunks are skipped. */
  private sumPartials(total: number, out: F32Buf, partials: Regions): void {
    const acc = new Float32Array(this.memory.buffer, out.ptr, out.length);
    for (let t = 1; t < this.threads; t++) {
      const [b, e] = chunk(total, this.threads, t);
      if (b >= e) continue;
      const p = new Float32Array(this.memory.buffer, partials.ptr + (t - 1) * partials.stride, out.length);
      for (let i = 0; i < acc.length; i++) acc[i] += p[i];
    }
  }
}

/** The error a failed call throws: names the kernel and the thread. */
export function kernelError(name: string, thread: number, threads: number, cause: unknown): Error {
  const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  const where = thread === 0 ? 'the calling thread' : `worker ${thread}`;
  return new Error(`multirobust: kernel '${name}' failed on ${where} (of ${threads} threads): ${what}`, { cause });
}
