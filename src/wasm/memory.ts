// Arena over the engine's one shared WebAssembly.Memory.
//
// Every byte the kernels touch is handed out here: kernels never allocate (docs/engine.md "Kernel
// conventions"). Blocks are 16-byte aligned and rounded up to 16 bytes. Free blocks are kept in
// an address-sorted list and coalesced, so the same sequence of calls always yields the same
// addresses (determinism). `scope(fn)` frees every block allocated inside fn unless `keep`-ed.
// Views (`f32`, `i32`, `u8`) are created on demand: `memory.buffer` changes when memory grows.

export const ALIGN = 16;
const PAGE = 65536;

/** A run of f32 values in WASM memory: `ptr` is a byte address, `length` counts floats. */
export interface F32Buf {
  readonly ptr: number;
  readonly length: number;
}

export class OutOfMemoryError extends Error {
  constructor(readonly requestBytes: number, readonly inUseBytes: number, readonly limitBytes: number) {
    super(
      `multirobust: out of WASM memory: a request for ${requestBytes} bytes does not fit ` +
        `(${inUseBytes} bytes in use, limit ${limitBytes} bytes = ${(limitBytes / 2 ** 20).toFixed(0)} MiB; ` +
        `raise maximumMemoryMiB or use a smaller batch)`,
    );
    this.name = 'OutOfMemoryError';
  }
}

interface FreeBlock {
  start: number;
  size: number;
}

export class Arena {
  private readonly sizes = new Map<number, number>();
  private freeBlocks: FreeBlock[] = [];
  private top: number;
  private inUse = 0;
  private highWater = 0;
  private readonly scopes: Set<number>[] = [];

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly base: number,
    readonly limitBytes: number,
  ) {
    this.top = alignUp(base);
  }

  /**
   * Allocates `bytes` (≥ 0) bytes, 16-byte aligned. Contents are unspecified.
   * With `scoped = false` the block belongs to no scope (long-lived engine state).
   */
  alloc(bytes: number, scoped = true): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`alloc: bytes must be a non-negative integer, got ${bytes}`);
    const size = Math.max(ALIGN, alignUp(bytes));
    let ptr = -1;
    for (let i = 0; i < this.freeBlocks.length; i++) {
      const block = this.freeBlocks[i];
      if (block.size >= size) {
        ptr = block.start;
        if (block.size === size) this.freeBlocks.splice(i, 1);
        else this.freeBlocks[i] = { start: block.start + size, size: block.size - size };
        break;
      }
    }
    if (ptr < 0) {
      this.ensureCapacity(this.top + size, bytes);
      ptr = this.top;
      this.top += size;
    }
    this.sizes.set(ptr, size);
    this.inUse += size;
    this.highWater = Math.max(this.highWater, this.top);
    const scope = this.scopes[this.scopes.length - 1];
    if (scope && scoped) scope.add(ptr);
    return ptr;
  }

  /** Allocates room for `length` floats. */
  allocF32(length: number): F32Buf {
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`allocF32: length must be a non-negative integer, got ${length}`);
    return { ptr: this.alloc(length * 4), length };
  }

  /** Allocates and fills from `data`. */
  fromF32(data: ArrayLike<number>): F32Buf {
    const buf = this.allocF32(data.length);
    this.f32(buf.ptr, data.length).set(data);
    return buf;
  }

  /** Returns a block to the arena. Freeing an unknown pointer is an error (double free). */
  free(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new Error(`free: ${ptr} is not an allocated block (double free?)`);
    this.sizes.delete(ptr);
    this.inUse -= size;
    for (let s = this.scopes.length - 1; s >= 0; s--) if (this.scopes[s].delete(ptr)) break;
    this.insertFree(ptr, size);
  }

  /** Runs fn; frees every block allocated inside it that was not `keep`-ed or freed. */
  scope<T>(fn: () => T): T {
    this.scopes.push(new Set());
    try {
      return fn();
    } finally {
      const owned = this.scopes.pop()!;
      for (const ptr of owned) {
        const size = this.sizes.get(ptr)!;
        this.sizes.delete(ptr);
        this.inUse -= size;
        this.insertFree(ptr, size);
      }
    }
  }

  /** Takes a block out of whichever scope holds it: it lives until freed (e.g. a gradient adopted by a persistent parameter). */
  unscope(ptr: number): void {
    for (let s = this.scopes.length - 1; s >= 0; s--) if (this.scopes[s].delete(ptr)) return;
  }

  /** Moves a block out of the innermost scope into its parent (or out of all scopes). */
  keep(ptr: number): void {
    const n = this.scopes.length;
    if (n === 0 || !this.scopes[n - 1].delete(ptr)) return;
    if (n >= 2) this.scopes[n - 2].add(ptr);
  }

  /** Size in bytes of an allocated block (rounded), or undefined. */
  sizeOf(ptr: number): number | undefined {
    return this.sizes.get(ptr);
  }

  stats(): { inUseBytes: number; highWaterBytes: number; memoryBytes: number; limitBytes: number } {
    return { inUseBytes: this.inUse, highWaterBytes: this.highWater, memoryBytes: this.memory.buffer.byteLength, limitBytes: this.limitBytes };
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, length);
  }

  u8(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, length);
  }

  private insertFree(start: number, size: number): void {
    if (start + size === this.top) {
      // Returning the topmost block lowers the top, then swallows a free block that now ends there.
      this.top = start;
      const last = this.freeBlocks[this.freeBlocks.length - 1];
      if (last && last.start + last.size === this.top) {
        this.freeBlocks.pop();
        this.top = last.start;
      }
      return;
    }
    let lo = 0;
    let hi = this.freeBlocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.freeBlocks[mid].start < start) lo = mid + 1;
      else hi = mid;
    }
    const prev = this.freeBlocks[lo - 1];
    const next = this.freeBlocks[lo];
    if (prev && prev.start + prev.size === start) {
      prev.size += size;
      if (next && prev.start + prev.size === next.start) {
        prev.size += next.size;
        this.freeBlocks.splice(lo, 1);
      }
    } else if (next && start + size === next.start) {
      next.start = start;
      next.size += size;
    } else {
      this.freeBlocks.splice(lo, 0, { start, size });
    }
  }

  private ensureCapacity(endByte: number, requestBytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (endByte <= have) return;
    if (endByte > this.limitBytes) throw new OutOfMemoryError(requestBytes, this.inUse, this.limitBytes);
    // Grow geometrically (at least 1/4 more) so a training run grows memory a few times, not per step.
    const want = Math.min(this.limitBytes, Math.max(endByte, have + (have >> 2)));
    const pages = Math.ceil((want - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (err) {
      throw new OutOfMemoryError(requestBytes, this.inUse, have);
    }
  }
}

export function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
