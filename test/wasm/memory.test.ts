import { describe, expect, it } from 'vitest';
import { Arena, OutOfMemoryError } from '../../src/wasm/memory.ts';

function arena(initialPages = 1, maxPages = 4): Arena {
  const memory = new WebAssembly.Memory({ initial: initialPages, maximum: maxPages, shared: true });
  return new Arena(memory, 1000, maxPages * 65536);
}

describe('Arena', () => {
  it('hands out 16-byte aligned, disjoint blocks', () => {
    const a = arena();
    const ptrs = [1, 17, 3, 64, 0, 5].map((n) => [a.alloc(n), n] as const);
    for (const [p] of ptrs) expect(p % 16).toBe(0);
    const sorted = [...ptrs].sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i][0]).toBeGreaterThanOrEqual(sorted[i - 1][0] + Math.max(16, sorted[i - 1][1]));
    expect(sorted[0][0]).toBeGreaterThanOrEqual(1000);
  });

  it('reuses freed space and coalesces neighbours (same sequence → same addresses)', () => {
    const a = arena();
    const p1 = a.alloc(64), p2 = a.alloc(64), p3 = a.alloc(64);
    a.alloc(16); // keeps the top above p3
    a.free(p1);
    a.free(p3);
    a.free(p2); // p1..p3 coalesce into one 192-byte block
    expect(a.alloc(192)).toBe(p1);
    const b = arena();
    const q1 = b.alloc(64);
    expect(q1).toBe(p1);
  });

  it('lowers the top when the last block is freed, so memory use stays flat', () => {
    const a = arena();
    const base = a.stats().inUseBytes;
    for (let i = 0; i < 1000; i++) a.scope(() => { a.alloc(1000); a.alloc(3000); });
    expect(a.stats().inUseBytes).toBe(base);
    expect(a.stats().highWaterBytes).toBeLessThan(1000 + 4096 + 64);
  });

  it('scope frees temporaries but not kept or unscoped blocks; free inside scope is fine', () => {
    const a = arena();
    let kept = 0, unscoped = 0;
    a.scope(() => {
      a.alloc(32);
      kept = a.alloc(32);
      a.keep(kept);
      unscoped = a.alloc(32, false);
      const tmp = a.alloc(32);
      a.free(tmp);
    });
    expect(a.sizeOf(kept)).toBe(32);
    expect(a.sizeOf(unscoped)).toBe(32);
    expect(a.stats().inUseBytes).toBe(64);
    // keep() in a nested scope moves the block to the parent scope, which then frees it.
    a.scope(() => {
      let inner = 0;
      a.scope(() => { inner = a.alloc(16); a.keep(inner); });
      expect(a.sizeOf(inner)).toBe(16);
    });
    expect(a.stats().inUseBytes).toBe(64);
  });

  it('grows memory on demand and re-derived views see the new buffer', () => {
    const a = arena(1, 8);
    const p = a.alloc(200_000);
    const v = a.f32(p, 50_000);
    v[49_999] = 7;
    expect(a.stats().memoryBytes).toBeGreaterThanOrEqual(p + 200_000);
    expect(a.f32(p, 50_000)[49_999]).toBe(7);
  });

  it('out of memory names the request size and the limit', () => {
    const a = arena(1, 2);
    expect(() => a.alloc(10_000_000)).toThrow(OutOfMemoryError);
    expect(() => a.alloc(10_000_000)).toThrow(/request for 10000000 bytes .* limit 131072 bytes/);
  });

  it('rejects double free and bad sizes', () => {
    const a = arena();
    const p = a.alloc(16);
    a.free(p);
    expect(() => a.free(p)).toThrow(/not an allocated block/);
    expect(() => a.alloc(-1)).toThrow(/non-negative integer/);
    expect(() => a.allocF32(1.5)).toThrow(/length must be a non-negative integer/);
  });
});
