// The engine: one compiled kernel module, one shared memory, its arena, and the kernel table.
//
// Calling convention (README "Kernel conventions"): every kernel is
//   kernel(params, begin, end, scratch)            for kernels whose [begin, end) parts are independent
//   kernel(params, begin, end, scratch, partial)   for reductions across [begin, end)
// where `params` points at a block of 4-byte fields written by `Params`, `scratch` is private
// workspace of `<name>_scratch(params)` bytes, and `partial` receives the reduction of [begin, end).
// `run`/`reduce` are the only way src/ calls kernels; a thread pool replaces `dispatch`.
import { Arena, type F32Buf } from './memory.ts';
import type { BuildName, KernelIsa } from './load.ts';

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

export class Engine {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly exports: EngineExports;
  readonly arena: Arena;
  readonly isa: KernelIsa;
  readonly build: BuildName;
  readonly calls: KernelCalls = new Map();
  private readonly table = new Map<string, KernelFn>();
  private readonly scratchSizers = new Map<string, (params: number) => number>();
  private readonly paramPtr: number;
  private scratch = { ptr: 0, bytes: 0 };

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
  kernel(name: string): KernelFn {
    const fn = this.table.get(name);
    if (!fn) throw new Error(`multirobust: unknown kernel '${name}'`);
    return fn;
  }

  /** Runs kernel `name` over [0, total) with the given parameter block. */
  run(name: string, params: Params, total: number): void {
    const fn = this.kernel(name);
    this.count(name);
    const p = this.writeParams(params);
    this.dispatch(name, fn, p, total, this.scratchFor(name, p), null);
  }

  /** Runs reduction kernel `name` over [0, total); the reduction lands in `out`. */
  reduce(name: string, params: Params, total: number, out: F32Buf): void {
    const fn = this.kernel(name);
    this.count(name);
    const p = this.writeParams(params);
    this.dispatch(name, fn, p, total, this.scratchFor(name, p), out);
  }

  /**
   * Executes one kernel call. Single-threaded here: the whole range on the calling thread.
   * The worker pool (src/wasm/pool.ts) overrides this to split [0, total).
   */
  protected dispatch(_name: string, fn: KernelFn, params: number, total: number, scratch: number, out: F32Buf | null): void {
    if (total <= 0) {
      if (out) this.arena.f32(out.ptr, out.length).fill(0);
      return;
    }
    if (out) fn(params, 0, total, scratch, out.ptr);
    else fn(params, 0, total, scratch);
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

  /** Scratch for one call: one region kept across calls, grown when a kernel needs more. */
  private scratchFor(name: string, params: number): number {
    const sizer = this.scratchSizers.get(name);
    const bytes = sizer ? sizer(params) : 0;
    if (bytes > this.scratch.bytes) {
      if (this.scratch.ptr) this.arena.free(this.scratch.ptr);
      this.scratch = { ptr: this.arena.alloc(bytes, false), bytes };
    }
    return this.scratch.ptr;
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
