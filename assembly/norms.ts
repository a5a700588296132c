// Per-example norms, elementwise sign, and the sparse L1 (SLIDE) step direction.
//
// Buffers (row-major f32): x, g, out (N, D); norms out (N, 3) = (‖x‖₁, ‖x‖₂, ‖x‖∞) per row.
// Parameter blocks (see src/kernels/norms.ts):
//   f32_norms      0 N, 1 D, 2 x, 3 out (N×3).
//   f32_sign       0 N, 1 D, 2 x, 3 out (N×D; out == x allowed). sign(0) = 0, sign(NaN) = 0.
//   f32_slide_dir  0 N, 1 D, 2 g, 3 x (current point x0 + δ, or 0: no box), 4 out (N×D),
//                  5 q (f32 percentile in [0, 100]), 6 flags (bit 0: percentile over the
//                  unblocked coordinates only).
// SLIDE direction (Tramèr & Boneh 2019, MultiRobustness pgd_attack.py; paper.md §1.5):
//   1. g_i := 0 where the move would leave the box [0, 1]: x_i ≥ 1 and g_i > 0, or x_i ≤ 0 and g_i < 0.
//   2. P = q-th percentile of |g| over the row (numpy's default "linear" rule: sorted s, position
//      q/100·(m−1), linear interpolation between its two neighbours). By default over all D
//      coordinates, blocked ones counting as 0 (the reference code); with flag bit 0 over the m
//      unblocked coordinates only (the wording).
//   3. e_i = sign(g_i)·1[|g_i| ≥ P, g_i ≠ 0] / #{i : |g_i| ≥ P, g_i ≠ 0}, so ‖e‖₁ = 1.
//   NOTE: an all-zero (or fully blocked) gradient gives e = 0 (the reference divides 0 by 0).
//   Selection: heap select (build a max-heap of |g| in scratch, pop the top (m−1−⌊pos⌋) times),
//   O(D + (100−q)/100·D·log D): cheap for the usual q ≈ 99. Both twins share it.
// Variants: __scalar plain loops (reference); __simd f32x4 main loops + scalar tails.
// Threading contract: [begin, end) splits the examples (rows); results do not depend on it.
//   Norms accumulate in f64 (scalar) or f32x4 lanes then f64 (simd).
// Scratch: f32_slide_dir_scratch = D floats (the |g| heap).
import { paramF32, paramI32, paramPtr } from "./simd";
import { siftDown } from "./proj";

// ---------------------------------------------------------------------------------------------
// Norms
// ---------------------------------------------------------------------------------------------

export function f32_norms__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1), x = paramPtr(params, 2), out = paramPtr(params, 3);
  for (let n = begin; n < end; n++) {
    const row = x + (<usize>n * D << 2);
    let l1: f64 = 0, l2: f64 = 0, linf: f32 = 0;
    for (let i = 0; i < D; i++) {
      const v = load<f32>(row + (<usize>i << 2));
      const a = abs<f32>(v);
      l1 += <f64>a;
      l2 += <f64>v * <f64>v;
      linf = max<f32>(linf, a);
    }
    const o = out + (<usize>n * 3 << 2);
    store<f32>(o, <f32>l1);
    store<f32>(o, <f32>Math.sqrt(l2), 4);
    store<f32>(o, linf, 8);
  }
}

export function f32_norms__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1), x = paramPtr(params, 2), out = paramPtr(params, 3);
  for (let n = begin; n < end; n++) {
    const row = x + (<usize>n * D << 2);
    let vl1 = f32x4.splat(0), vl2 = f32x4.splat(0), vmax = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= D; i += 4) {
      const v = v128.load(row + (<usize>i << 2));
      const va = f32x4.abs(v);
      vl1 = f32x4.add(vl1, va);
      vl2 = f32x4.add(vl2, f32x4.mul(v, v));
      vmax = f32x4.max(vmax, va);
    }
    let l1: f64 = <f64>f32x4.extract_lane(vl1, 0) + <f64>f32x4.extract_lane(vl1, 1) + <f64>f32x4.extract_lane(vl1, 2) + <f64>f32x4.extract_lane(vl1, 3);
    let l2: f64 = <f64>f32x4.extract_lane(vl2, 0) + <f64>f32x4.extract_lane(vl2, 1) + <f64>f32x4.extract_lane(vl2, 2) + <f64>f32x4.extract_lane(vl2, 3);
    let linf = max(max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)), max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
    for (; i < D; i++) {
      const v = load<f32>(row + (<usize>i << 2));
      const a = abs<f32>(v);
      l1 += <f64>a;
      l2 += <f64>v * <f64>v;
      linf = max<f32>(linf, a);
    }
    const o = out + (<usize>n * 3 << 2);
    store<f32>(o, <f32>l1);
    store<f32>(o, <f32>Math.sqrt(l2), 4);
    store<f32>(o, linf, 8);
  }
}

// ---------------------------------------------------------------------------------------------
// Sign
// ---------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function signOf(v: f32): f32 {
  return v > 0 ? 1 : v < 0 ? -1 : 0;
}

export function f32_sign__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1), x = paramPtr(params, 2), out = paramPtr(params, 3);
  const from = <usize>begin * D, to = <usize>end * D;
  for (let k = from; k < to; k++) store<f32>(out + (k << 2), signOf(load<f32>(x + (k << 2))));
}

export function f32_sign__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1), x = paramPtr(params, 2), out = paramPtr(params, 3);
  const from = <usize>begin * D, to = <usize>end * D;
  const vone = f32x4.splat(1), vzero = f32x4.splat(0);
  let k = from;
  for (; k + 4 <= to; k += 4) {
    const v = v128.load(x + (k << 2));
    // (v > 0 ? 1 : 0) − (v < 0 ? 1 : 0); NaN compares false both ways → 0.
    const vpos = v128.and(f32x4.gt(v, vzero), vone), vneg = v128.and(f32x4.lt(v, vzero), vone);
    v128.store(out + (k << 2), f32x4.sub(vpos, vneg));
  }
  for (; k < to; k++) store<f32>(out + (k << 2), signOf(load<f32>(x + (k << 2))));
}

// ---------------------------------------------------------------------------------------------
// SLIDE direction
// ---------------------------------------------------------------------------------------------

const SLIDE_UNBLOCKED_ONLY: i32 = 1;

/** Scratch bytes of f32_slide_dir: D floats (the |g| heap), at least 16. */
export function f32_slide_dir_scratch(params: usize): i32 {
  return max(paramI32(params, 1) << 2, 16);
}

/** The box-blocked gradient: 0 where a step along g would leave [0, 1]. */
// @ts-ignore: decorator
@inline function unblocked(g: f32, x: f32): f32 {
  return (x >= 1 && g > 0) || (x <= 0 && g < 0) ? 0 : g;
}

/** numpy-style linear percentile q of the m floats at heap (destroyed: it becomes a heap). */
function percentileHeap(heap: usize, m: i32, q: f32): f32 {
  if (m <= 0) return 0;
  const pos = <f64>q / 100 * <f64>(m - 1);
  let lo = <i32>Math.floor(pos);
  if (lo > m - 1) lo = m - 1;
  const frac = pos - <f64>lo;
  for (let start = (m >> 1) - 1; start >= 0; start--) siftDown(heap, start, m);
  // Pop the largest values until s[lo] is on top; the last one popped is s[lo + 1].
  let above: f32 = 0;
  let size = m;
  for (let pops = m - 1 - lo; pops > 0; pops--) {
    above = load<f32>(heap);
    size--;
    store<f32>(heap, load<f32>(heap + (<usize>size << 2)));
    siftDown(heap, 0, size);
  }
  const at = load<f32>(heap);
  if (lo == m - 1 || frac == 0) return at;
  return <f32>(<f64>at + (<f64>above - <f64>at) * frac);
}

export function f32_slide_dir__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1), g = paramPtr(params, 2), x = paramPtr(params, 3), out = paramPtr(params, 4);
  const q = paramF32(params, 5), flags = paramI32(params, 6);
  for (let n = begin; n < end; n++) {
    const row = <usize>n * D << 2;
    // |g| of the coordinates that enter the percentile.
    let m = 0;
    for (let i = 0; i < D; i++) {
      const off = row + (<usize>i << 2);
      const gi = load<f32>(g + off);
      const blocked = x ? unblocked(gi, load<f32>(x + off)) == 0 && gi != 0 : false;
      if (blocked && (flags & SLIDE_UNBLOCKED_ONLY)) continue;
      store<f32>(scratch + (<usize>m << 2), blocked ? 0 : abs<f32>(gi));
      m++;
    }
    const p = percentileHeap(scratch, m, q);
    let count = 0;
    for (let i = 0; i < D; i++) {
      const off = row + (<usize>i << 2);
      const gi = x ? unblocked(load<f32>(g + off), load<f32>(x + off)) : load<f32>(g + off);
      if (gi != 0 && abs<f32>(gi) >= p) count++;
    }
    const w: f32 = count > 0 ? <f32>(1.0 / <f64>count) : 0;
    for (let i = 0; i < D; i++) {
      const off = row + (<usize>i << 2);
      const gi = x ? unblocked(load<f32>(g + off), load<f32>(x + off)) : load<f32>(g + off);
      store<f32>(out + off, gi != 0 && abs<f32>(gi) >= p ? (gi > 0 ? w : -w) : 0);
    }
  }
}

/** f32x4 version of `unblocked`. */
// @ts-ignore: decorator
@inline function unblockedSimd(vg: v128, vx: v128): v128 {
  const vzero = f32x4.splat(0), vone = f32x4.splat(1);
  const blocked = v128.or(v128.and(f32x4.ge(vx, vone), f32x4.gt(vg, vzero)), v128.and(f32x4.le(vx, vzero), f32x4.lt(vg, vzero)));
  return v128.andnot(vg, blocked);
}

export function f32_slide_dir__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1), g = paramPtr(params, 2), x = paramPtr(params, 3), out = paramPtr(params, 4);
  const q = paramF32(params, 5), flags = paramI32(params, 6);
  const vzero = f32x4.splat(0);
  for (let n = begin; n < end; n++) {
    const row = <usize>n * D << 2;
    let m = 0;
    if (flags & SLIDE_UNBLOCKED_ONLY) {
      // Compaction: scalar.
      for (let i = 0; i < D; i++) {
        const off = row + (<usize>i << 2);
        const gi = load<f32>(g + off);
        if (x && unblocked(gi, load<f32>(x + off)) == 0 && gi != 0) continue;
        store<f32>(scratch + (<usize>m << 2), abs<f32>(gi));
        m++;
      }
    } else {
      let i = 0;
      for (; i + 4 <= D; i += 4) {
        const off = row + (<usize>i << 2);
        const vg = x ? unblockedSimd(v128.load(g + off), v128.load(x + off)) : v128.load(g + off);
        v128.store(scratch + (<usize>i << 2), f32x4.abs(vg));
      }
      for (; i < D; i++) {
        const off = row + (<usize>i << 2);
        const gi = x ? unblocked(load<f32>(g + off), load<f32>(x + off)) : load<f32>(g + off);
        store<f32>(scratch + (<usize>i << 2), abs<f32>(gi));
      }
      m = D;
    }
    const p = percentileHeap(scratch, m, q);
    const vp = f32x4.splat(p);
    // Pass 1: count; pass 2: write (the gradient is re-read rather than stored: scratch is the heap).
    let vcount = i32x4.splat(0);
    let i = 0;
    for (; i + 4 <= D; i += 4) {
      const off = row + (<usize>i << 2);
      const vg = x ? unblockedSimd(v128.load(g + off), v128.load(x + off)) : v128.load(g + off);
      const sel = v128.and(f32x4.ne(vg, vzero), f32x4.ge(f32x4.abs(vg), vp));
      vcount = i32x4.sub(vcount, sel);
    }
    let count = i32x4.extract_lane(vcount, 0) + i32x4.extract_lane(vcount, 1) + i32x4.extract_lane(vcount, 2) + i32x4.extract_lane(vcount, 3);
    for (let j = i; j < D; j++) {
      const off = row + (<usize>j << 2);
      const gi = x ? unblocked(load<f32>(g + off), load<f32>(x + off)) : load<f32>(g + off);
      if (gi != 0 && abs<f32>(gi) >= p) count++;
    }
    const w: f32 = count > 0 ? <f32>(1.0 / <f64>count) : 0;
    const vw = f32x4.splat(w), vsignbit = i32x4.splat(0x80000000);
    i = 0;
    for (; i + 4 <= D; i += 4) {
      const off = row + (<usize>i << 2);
      const vg = x ? unblockedSimd(v128.load(g + off), v128.load(x + off)) : v128.load(g + off);
      const sel = v128.and(f32x4.ne(vg, vzero), f32x4.ge(f32x4.abs(vg), vp));
      v128.store(out + off, v128.and(v128.or(vw, v128.and(vg, vsignbit)), sel));
    }
    for (; i < D; i++) {
      const off = row + (<usize>i << 2);
      const gi = x ? unblocked(load<f32>(g + off), load<f32>(x + off)) : load<f32>(g + off);
      store<f32>(out + off, gi != 0 && abs<f32>(gi) >= p ? (gi > 0 ? w : -w) : 0);
    }
  }
}
