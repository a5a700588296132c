// Small @inline helpers shared by the kernel files: parameter-block reads and
// SIMD reductions. No state, no allocation.

/** Reads the i32 field `index` of a kernel parameter block (fields are 4 bytes). */
// @ts-ignore: decorator
@inline export function paramI32(params: usize, index: i32): i32 {
  return load<i32>(params + (<usize>index << 2));
}

/** Reads the f32 field `index` of a kernel parameter block. */
// @ts-ignore: decorator
@inline export function paramF32(params: usize, index: i32): f32 {
  return load<f32>(params + (<usize>index << 2));
}

/** Reads a pointer field of a kernel parameter block. */
// @ts-ignore: decorator
@inline export function paramPtr(params: usize, index: i32): usize {
  return <usize>load<u32>(params + (<usize>index << 2));
}

/** Sum of the four lanes of an f32x4, in lane order ((l0 + l1) + l2) + l3. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** Maximum of the four lanes of an f32x4. */
// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/** Fills `n` floats at `dst` with zeros. */
// @ts-ignore: decorator
@inline export function zeroF32(dst: usize, n: i32): void {
  memory.fill(dst, 0, <usize>n << 2);
}

/** Copies `n` floats from `src` to `dst` (non-overlapping). */
// @ts-ignore: decorator
@inline export function copyF32(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, <usize>n << 2);
}

/**
 * c + a·b per lane. The relaxed-SIMD build (ASC_FEATURE_RELAXED_SIMD) uses f32x4.relaxed_madd,
 * a fused multiply-add where the CPU has one; the plain SIMD build rounds the product first.
 */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** v rounded up to a multiple of m (m > 0). */
// @ts-ignore: decorator
@inline export function roundUp(v: i32, m: i32): i32 {
  return ((v + m - 1) / m) * m;
}

/** The first n (0–4) floats at src in lanes 0.., zeros in the others; nothing past them is read. */
// @ts-ignore: decorator
@inline export function loadLanes(src: usize, n: i32): v128 {
  if (n >= 4) return v128.load(src);
  let v = f32x4.splat(0);
  if (n > 0) v = f32x4.replace_lane(v, 0, load<f32>(src));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(src, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(src, 8));
  return v;
}

/** Stores lanes 0..n−1 (n in 0–4) of v at dst; nothing past them is written. */
// @ts-ignore: decorator
@inline export function storeLanes(dst: usize, v: v128, n: i32): void {
  if (n >= 4) {
    v128.store(dst, v);
    return;
  }
  if (n > 0) store<f32>(dst, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(dst, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(dst, f32x4.extract_lane(v, 2), 8);
}
