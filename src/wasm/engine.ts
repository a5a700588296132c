// The engine: one compiled kernel module, one shared memory, its arena, and the kernel table.
//
// Calling convention (docs/engine.md "Kernel conventions"): every kernel is
//   kernel(params, begin, end, scratch)            for kernels whose [begin, end) parts are independent
//   kernel(params, begin, end, scratch, partial)   for reductions across [begin, end)
// where `params` points at a block of 4-byte fields written by `Params`, `scratch` is private
// workspace of `<name>_scratch(params)` bytes, and `partial` receives the reduction of [begin, end).
// `run`/`reduce` are the only way src/ calls kernels.
//
// Threads (pool.ts): with `threads` > 1 a reduction is split into `threads` contiguous chunks of
// [0, total), chunk 0 on the calling thread and one per worker, each with its own scratch region;
// its partials (thread 0: `out` itself, thread t: its own region of out.length floats) are summed
// into `out` in thread order, so results depend only on the thread count. Other calls are cut into
// grainsPerThread × threads contiguous grains that the threads take in turn (load balancing on a
// busy host; their parts are independent, so the bits do not depend on who ran which grain).
// Calls whose estimated `cost` (flops) is below `minParallelCost` run on the calling thread alone.
import { Arena, alignUp, type F32Buf } from './memory.ts';
import type { BuildName, KernelIsa } from './load.ts';
import type { KernelName } from './exports.ts';
import { WorkerPool, kernelError, type Regions } from './pool.ts';

export type KernelFn = (params: number, begin: number, end: number, scratch: number, partial?: number) => void;

export interface EngineExports {
  heap_base(): number;
  [name: string]: unknown;
}

/** Builder for a kernel parameter block: 4-byte fields in call order. */
export class Params {
  readonly values: number[] = [];
  readonly isFloat: boolean[] = [];

  i32(value: number): this {
    this.values.push(value | 0);
    this.isFloat.push(false);
    return this;
  }

  f32(value: number): this {
    this.values.push(value);
    this.isFloat.push(true);
    return this;
  }

  /** A buffer's byte address, or 0 for "none". */
  ptr(buf: F32Buf | null | undefined): this {
    return this.i32(buf ? buf.ptr : 0);
  }
}

/** Per-call counters of kernel invocations (base names), for tests and profiling. */
export type KernelCalls = Map<string, number>;

const PARAM_BYTES = 1024;

/**
 * Default minimum estimated cost of a call worth splitting across threads, in flops (GEMM-like
 * kernels run ≈ 30 flop/ns per thread; for streaming kernels pass ≈ 30 × the expected ns, i.e.
 * ≈ 40 × the floats touched).
 * NOTE: measured on the 2-core machine (`npm run bench:threads`, Node 20). Before the pool's
 * threads spun (pool.ts SPIN_MS), one dispatch round trip cost ≈ 11 µs when calls came back to back
 * and ≈ 60 µs when the worker had gone to sleep, and a split GEMM 64³ ran 0.6×, 80³ 1.0× as fast
 * as one thread. With the spin (2026-11-29): round trip 0.2 µs; GEMM split vs one thread 32³
 * (0.07 Mflop) 1.0×, 48³ 1.2×, 64³ 1.4×, 96³ 1.65×, 128³ 1.8×. The threshold stays here, where a
 * split pays even when the worker has to be woken. Messages instead of Atomics cost ≈ 150 µs
 * (Node 20) / ≈ 50 µs (Deno) per round trip, and the caller would have to return to its event loop.
 */
export const MIN_PARALLEL_COST = 1e6;

export class Engine {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly exports: EngineExports;
  readonly arena: Arena;
  readonly isa: KernelIsa;
  readonly build: BuildName;
  readonly calls: KernelCalls = new Map();
  /** Calls with an estimated cost (flops) below this run on the calling thread alone. */
  minParallelCost = MIN_PARALLEL_COST;
  /** Convolution algorithm of calls that do not name one (src/kernels/conv2d.ts ConvAlgorithm). */
  convAlgorithm: 'auto' | 'gemm' | 'winograd' = 'auto';
  private readonly table = new Map<string, KernelFn>();
  private readonly indices = new Map<string, number>();
  private readonly scratchSizers = new Map<string, (params: number) => number>();
  private readonly paramPtr: number;
  private pool: WorkerPool | null = null;
  private closed = false;
  private scratch = { ptr: 0, bytes: 0 };
  private partials = { ptr: 0, bytes: 0 };

  constructor(init: { module: WebAssembly.Module; memory: WebAssembly.Memory; exports: EngineExports; kernels: KernelIsa; build: BuildName; limitBytes: number }) {
    this.module = init.module;
    this.memory = init.memory;
    this.exports = init.exports;
    this.isa = init.kernels;
    this.build = init.build;
    this.arena = new Arena(this.memory, this.exports.heap_base(), init.limitBytes);
    this.paramPtr = this.arena.alloc(PARAM_BYTES, false);
    for (const name of Engine.kernelNames(this.exports)) {
      const fn = this.exports[`${name}__${this.isa}`] as KernelFn;
      this.indices.set(name, this.table.size);
      this.table.set(name, fn);
      const sizer = this.exports[`${name}_scratch`];
      if (typeof sizer === 'function') this.scratchSizers.set(name, sizer as (params: number) => number);
    }
  }

  /** Base names of all kernels (`f32_gemm`, …), each present as __simd and __scalar. */
  static kernelNames(exports: Record<string, unknown>): string[] {
    const names = new Set<string>();
    for (const key of Object.keys(exports)) {
      const m = /^(.+)__(simd|scalar)$/.exec(key);
      if (!m) continue;
      const twin = `${m[1]}__${m[2] === 'simd' ? 'scalar' : 'simd'}`;
      if (typeof exports[twin] !== 'function') throw new Error(`multirobust: kernel ${key} has no twin ${twin}`);
      names.add(m[1]);
    }
    return [...names].sort();
  }

  kernelNames(): string[] {
    return [...this.table.keys()];
  }

  /** The selected variant of a kernel. */
  kernel(name: KernelName): KernelFn {
    const fn = this.table.get(name);
    if (!fn) throw new Error(`multirobust: unknown kernel '${name}'`);
    return fn;
  }

  /** Threads a call may use: 1 (the calling thread only) or 1 + the number of workers. */
  get threads(): number {
    return this.pool ? this.pool.threads : 1;
  }

  /**
   * Runs kernel `name` over [0, total) with the given parameter block.
   * `cost`: estimated flops of the whole call (see MIN_PARALLEL_COST); omitted: split whenever total ≥ 2.
   * `grainsPerThread`: parts per thread when split (pool.ts GRAINS_PER_THREAD); 1 for kernels whose
   * every part repeats costly setup.
   */
  run(name: KernelName, params: Params, total: number, cost?: number, grainsPerThread?: number): void {
    this.call(name, params, total, null, cost, grainsPerThread);
  }

  /** Runs reduction kernel `name` over [0, total); the reduction lands in `out`. `cost` as in `run`. */
  reduce(name: KernelName, params: Params, total: number, out: F32Buf, cost?: number): void {
    this.call(name, params, total, out, cost);
  }

  private call(name: KernelName, params: Params, total: number, out: F32Buf | null, cost: number | undefined, grainsPerThread?: number): void {
    const fn = this.kernel(name);
    this.count(name);
    this.dispatch(name, fn, this.writeParams(params), total, out, cost, grainsPerThread);
  }

  /** Starts `threads` − 1 workers (loadEngine does this); 1 = none. `spinMs`: how long waiting threads spin (pool.ts SPIN_MS). */
  async startThreads(threads: number, spinMs?: number): Promise<void> {
    if (this.pool) throw new Error('multirobust: this engine already has workers');
    if (threads <= 1) return;
    this.pool = await WorkerPool.start({ module: this.module, memory: this.memory, arena: this.arena, threads, isa: this.isa, names: this.kernelNames(), spinMs });
  }

  /** Stops the workers; kernel calls on a closed engine throw. */
  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.close();
  }

  /** The worker pool, if any (tests and benchmarks). */
  get workerPool(): WorkerPool | null {
    return this.pool;
  }

  /** Executes one kernel call: on the calling thread, or split across the pool. */
  protected dispatch(name: string, fn: KernelFn, params: number, total: number, out: F32Buf | null, cost: number | undefined, grainsPerThread?: number): void {
    if (this.closed) throw new Error(`multirobust: kernel '${name}' called on a closed engine`);
    if (total <= 0) {
      if (out) this.arena.f32(out.ptr, out.length).fill(0);
      return;
    }
    const pool = this.pool;
    const split = pool !== null && total >= 2 && (cost === undefined || cost >= this.minParallelCost);
    const scratch = this.scratchFor(name, params, split ? pool.threads : 1);
    if (split) {
      pool.parallelFor(name, this.indices.get(name)!, fn, params, total, scratch, out ? { out, partials: this.partialsFor(out, pool.threads) } : null, grainsPerThread);
      return;
    }
    try {
      if (out) fn(params, 0, total, scratch.ptr, out.ptr);
      else fn(params, 0, total, scratch.ptr);
    } catch (err) {
      throw kernelError(name, 0, 1, err);
    }
  }

  private count(name: string): void {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
  }

  private writeParams(params: Params): number {
    const n = params.values.length;
    if (n * 4 > PARAM_BYTES) throw new Error(`multirobust: parameter block of ${n} fields is too large`);
    const i32 = this.arena.i32(this.paramPtr, n);
    const f32 = this.arena.f32(this.paramPtr, n);
    for (let i = 0; i < n; i++) {
      if (params.isFloat[i]) f32[i] = params.values[i];
      else i32[i] = params.values[i];
    }
    return this.paramPtr;
  }

  /** Scratch for one call, one region per thread: kept across calls, grown when a kernel needs more. */
  private scratchFor(name: string, params: number, threads: number): Regions {
    const sizer = this.scratchSizers.get(name);
    const stride = alignUp(sizer ? sizer(params) : 0);
    const bytes = stride * threads;
    if (bytes > this.scratch.bytes) {
      if (this.scratch.ptr) this.arena.free(this.scratch.ptr);
      this.scratch = { ptr: this.arena.alloc(bytes, false), bytes };
    }
    return { ptr: this.scratch.ptr, stride };
  }

  /** Partial-result regions of threads 1 … threads−1 for a reduction into `out`. */
  private partialsFor(out: F32Buf, threads: number): Regions {
    const stride = alignUp(out.length * 4);
    const bytes = stride * (threads - 1);
    if (bytes > this.partials.bytes) {
      if (this.partials.ptr) this.arena.free(this.partials.ptr);
      this.partials = { ptr: this.arena.alloc(bytes, false), bytes };
    }
    return { ptr: this.partials.ptr, stride };
  }

  /** Copies floats into a new arena buffer. */
  fromF32(data: ArrayLike<number>): F32Buf {
    return this.arena.fromF32(data);
  }

  /** Copies a buffer out of WASM memory. */
  toF32(buf: F32Buf): Float32Array {
    return this.arena.f32(buf.ptr, buf.length).slice();
  }

  /** A live view (invalid after memory grows: do not keep it across allocations). */
  view(buf: F32Buf): Float32Array {
    return this.arena.f32(buf.ptr, buf.length);
  }
}
