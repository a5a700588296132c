// Bilinear rotation + translation of NHWC images (the spatial transform of the RT threat model),
// with its adjoint (backward to the image) and its gradient with respect to (θ, tx, ty).
//
// Buffers (f32): images (N, H, W, C) NHWC; tp (N, 3) per-example (θ radians, tx, ty pixels);
//   output images (N, H, W, C); gp (N, 3) gradients with respect to (θ, tx, ty).
// Parameter block (i32 fields, see src/kernels/spatial.ts): 0 N, 1 H, 2 W, 3 C, 4 tp, 5 a, 6 b, 7 c
//   f32_bilinear_fwd         a = x,  b = y                      y = T(x)
//   f32_bilinear_bwd_input   a = gy, b = gx (overwritten)       gx = Tᵀ gy (the adjoint)
//   f32_bilinear_bwd_params  a = x,  b = gy, c = gp (N×3)       gp = ∂⟨gy, T(x)⟩/∂(θ, tx, ty)
// Geometry (the reference: MadryLab adversarial_spatial / MultiRobustness, tf.contrib.image.rotate
//   by θ then tf.contrib.image.transform with [1, 0, −tx, 0, 1, −ty]; paper.md §1.5). Pixel (i, j) =
//   (row, column), centre c = ((W − 1)/2, (H − 1)/2) in (x = column, y = row). Output pixel p = (j, i)
//   samples the input at
//       s = R(θ)·(p − t − c) + c,   R(θ) = [[cos θ, −sin θ], [sin θ, cos θ]],  t = (tx, ty)
//   i.e. sx = cos θ·u − sin θ·v + cx, sy = sin θ·u + cos θ·v + cy with u = j − tx − cx, v = i − ty − cy.
//   So θ = 0: y[i][j] = x[i − ty][j − tx]: content moves by +tx columns (right) and +ty rows (down);
//   θ > 0 with rows pointing down is tf's "counterclockwise" rotation of the displayed image.
// Sampling: bilinear, x0 = ⌊sx⌋, fx = sx − x0 (same for y); each of the 4 neighbours outside the
//   image reads 0 (zero fill, as tf's fill_value 0); an output whose 4 neighbours are outside is 0.
// NOTE: one composed resampling, where the reference resamples twice (rotate, then translate).
//   They agree exactly for integer translations and differ (the reference blurs twice) otherwise.
// NOTE: the gradient wrt (θ, tx, ty) is that of the piecewise-bilinear map: at integer sample
//   coordinates (pixel-grid kinks) it takes the one-sided derivative from the right/below.
// Sample points: sx = cs·j + rowX, sy = sn·j + rowY (rowX, rowY once per row, see originX), so
//   integer translations at θ = 0 stay exact. Zero fill without branches ("clamp and mask"): every
//   tap reads a pixel clamped into the image and gets weight 0 when it is outside (inputs must be
//   finite: 0·x must be 0).
// Variants:
//   __scalar  per pixel: sample point, 4 clamped taps with masked weights, then the channels.
//   __simd    C = 1 (2 ≤ W, H; H·W ≤ 2^23): 4 output pixels per f32x4. Per axis the two taps come
//             from the in-image pair (a, a + 1), a = ⌊s⌋ clamped into [0, size − 2]; a pair of
//             columns is one 64-bit load. Per row, the 4-pixel groups whose taps are all inside
//             (found analytically, with a margin for rounding) use weights (1 − f, f) directly;
//             the others select weights (or tap values) by comparing a with ⌊s⌋, so a tap outside
//             counts 0. Same products and sums as the scalar twin: fwd agrees with it exactly.
//             bwd_input writes each row's contributions to a table in scratch, then adds them in
//             the pixel order 0, 4, 8, …, 1, 5, …: pixels 4 apart never share a tap, so no add
//             waits on a partly overlapping store (store-to-load forwarding stalls otherwise
//             dominate; the summation order differs from the scalar twin's).
//             C ≥ 4: the scalar taps, channels in f32x4. Other shapes use the scalar code.
//   bwd_params sums ∂/∂sx and ∂/∂sy over pixels (the tx, ty gradients are −R(θ)ᵀ times those sums);
//   the scalar twin accumulates per pixel in f64, the SIMD version per row in f32x4, then f64.
// Threading contract: [begin, end) splits the examples (the adjoint's scatter stays in one
//   example). Scratch: f32_bilinear_bwd_input_scratch = the row table (simd, C = 1); others none.
// Trigonometry: own sin/cos (quadrant reduction + Taylor in f64), once per example: AS's Math.cos
//   keeps temporaries in module globals, which kernels must not use.
import { paramI32, paramPtr } from "./simd";

const HALF_PI: f64 = 1.5707963267948966;

/** sin(r) for |r| ≤ π/4 (Taylor to degree 19: error < 1e-17). */
function sinSmall(r: f64): f64 {
  const r2 = r * r;
  let term = r, sum = r;
  for (let k = 1; k <= 9; k++) {
    term *= -r2 / <f64>((2 * k) * (2 * k + 1));
    sum += term;
  }
  return sum;
}

/** cos(r) for |r| ≤ π/4 (Taylor to degree 20). */
function cosSmall(r: f64): f64 {
  const r2 = r * r;
  let term: f64 = 1, sum: f64 = 1;
  for (let k = 1; k <= 10; k++) {
    term *= -r2 / <f64>((2 * k - 1) * (2 * k));
    sum += term;
  }
  return sum;
}

/** sin(θ + shift·π/2) as f32; shift 1 gives cos θ. θ = 0 gives exactly 0 and 1. */
function sinShifted(theta: f64, shift: i64): f32 {
  const q = Math.round(theta / HALF_PI);
  const r = theta - q * HALF_PI;
  const quadrant = (<i64>q + shift) & 3;
  if (quadrant == 0) return <f32>sinSmall(r);
  if (quadrant == 1) return <f32>cosSmall(r);
  if (quadrant == 2) return <f32>-sinSmall(r);
  return <f32>-cosSmall(r);
}

// @ts-ignore: decorator
@inline function sinOf(theta: f32): f32 { return sinShifted(<f64>theta, 0); }
// @ts-ignore: decorator
@inline function cosOf(theta: f32): f32 { return sinShifted(<f64>theta, 1); }

export function f32_bilinear_fwd_scratch(params: usize): i32 { return 0; }
export function f32_bilinear_bwd_input_scratch(params: usize): i32 {
  const H = paramI32(params, 1), W = paramI32(params, 2);
  return useC1(H, W, paramI32(params, 3)) ? rowTableBytes(W) : 0;
}
export function f32_bilinear_bwd_params_scratch(params: usize): i32 { return 0; }

// ---------------------------------------------------------------------------------------------
// Scalar reference
// ---------------------------------------------------------------------------------------------

/** ⌊s⌋ (already floored) as an integer clamped into [−2, size] (NaN → −2): outside stays outside. */
// @ts-ignore: decorator
@inline function floorIndex(floored: f32, size: i32): i32 {
  if (!(floored >= -2)) return -2;
  if (floored > <f32>size) return size;
  return <i32>floored;
}

/** Tap k of an axis of `size` pixels clamped into the image (its weight is 0 when it was outside). */
// @ts-ignore: decorator
@inline function clampTap(k: i32, size: i32): i32 { return min(max(k, 0), size - 1); }

/** `w` when tap k lies inside an axis of `size` pixels, else 0 (zero fill). */
// @ts-ignore: decorator
@inline function tapWeight(k: i32, size: i32, w: f32): f32 { return <u32>k < <u32>size ? w : 0; }

/** Byte address of pixel (row, column) of an image with W columns and C channels. */
// @ts-ignore: decorator
@inline function pixelAt(img: usize, row: i32, col: i32, W: i32, C: i32): usize {
  return img + ((<usize>(row * W + col) * C) << 2);
}

// Sample point of output pixel (i, j) as an affine function of j (exact for integer translations
// at θ = 0): sx = cs·j + rowX, sy = sn·j + rowY, rowX = ox − sn·v, rowY = oy + cs·v,
// v = i − ty − cy, ox = cx − cs·(tx + cx), oy = cy − sn·(tx + cx).
// @ts-ignore: decorator
@inline function originX(W: i32, cs: f32, tx: f32): f32 { const cx = <f32>(W - 1) * 0.5; return cx - cs * (tx + cx); }
// @ts-ignore: decorator
@inline function originY(W: i32, H: i32, sn: f32, tx: f32): f32 { return <f32>(H - 1) * 0.5 - sn * (tx + <f32>(W - 1) * 0.5); }
// @ts-ignore: decorator
@inline function rowStartX(ox: f32, H: i32, sn: f32, ty: f32, i: i32): f32 { return ox - sn * (<f32>i - ty - <f32>(H - 1) * 0.5); }
// @ts-ignore: decorator
@inline function rowStartY(oy: f32, H: i32, cs: f32, ty: f32, i: i32): f32 { return oy + cs * (<f32>i - ty - <f32>(H - 1) * 0.5); }

function fwdExample(img: usize, out: usize, H: i32, W: i32, C: i32, cs: f32, sn: f32, tx: f32, ty: f32): void {
  const ox = originX(W, cs, tx), oy = originY(W, H, sn, tx);
  for (let i = 0; i < H; i++) {
    const rowX = rowStartX(ox, H, sn, ty, i), rowY = rowStartY(oy, H, cs, ty, i);
    for (let j = 0; j < W; j++) {
      const sx = cs * <f32>j + rowX, sy = sn * <f32>j + rowY;
      const fx0 = Mathf.floor(sx), fy0 = Mathf.floor(sy);
      const fx = sx - fx0, fy = sy - fy0;
      const x0 = floorIndex(fx0, W), y0 = floorIndex(fy0, H);
      const wx0 = tapWeight(x0, W, 1 - fx), wx1 = tapWeight(x0 + 1, W, fx);
      const wy0 = tapWeight(y0, H, 1 - fy), wy1 = tapWeight(y0 + 1, H, fy);
      const xa = clampTap(x0, W), xb = clampTap(x0 + 1, W), ya = clampTap(y0, H), yb = clampTap(y0 + 1, H);
      const p00 = pixelAt(img, ya, xa, W, C), p01 = pixelAt(img, ya, xb, W, C);
      const p10 = pixelAt(img, yb, xa, W, C), p11 = pixelAt(img, yb, xb, W, C);
      const o = pixelAt(out, i, j, W, C);
      for (let ch = 0; ch < C; ch++) {
        const off = <usize>ch << 2;
        const top = wx0 * load<f32>(p00 + off) + wx1 * load<f32>(p01 + off);
        const bottom = wx0 * load<f32>(p10 + off) + wx1 * load<f32>(p11 + off);
        store<f32>(o + off, wy0 * top + wy1 * bottom);
      }
    }
  }
}

/** gx = Tᵀ gy for one image; gx must be zero on entry. */
function bwdInputExample(gy: usize, gx: usize, H: i32, W: i32, C: i32, cs: f32, sn: f32, tx: f32, ty: f32): void {
  const ox = originX(W, cs, tx), oy = originY(W, H, sn, tx);
  for (let i = 0; i < H; i++) {
    const rowX = rowStartX(ox, H, sn, ty, i), rowY = rowStartY(oy, H, cs, ty, i);
    for (let j = 0; j < W; j++) {
      const sx = cs * <f32>j + rowX, sy = sn * <f32>j + rowY;
      const fx0 = Mathf.floor(sx), fy0 = Mathf.floor(sy);
      const fx = sx - fx0, fy = sy - fy0;
      const x0 = floorIndex(fx0, W), y0 = floorIndex(fy0, H);
      const wx0 = tapWeight(x0, W, 1 - fx), wx1 = tapWeight(x0 + 1, W, fx);
      const wy0 = tapWeight(y0, H, 1 - fy), wy1 = tapWeight(y0 + 1, H, fy);
      const xa = clampTap(x0, W), xb = clampTap(x0 + 1, W), ya = clampTap(y0, H), yb = clampTap(y0 + 1, H);
      const p00 = pixelAt(gx, ya, xa, W, C), p01 = pixelAt(gx, ya, xb, W, C);
      const p10 = pixelAt(gx, yb, xa, W, C), p11 = pixelAt(gx, yb, xb, W, C);
      const w00 = wx0 * wy0, w01 = wx1 * wy0, w10 = wx0 * wy1, w11 = wx1 * wy1;
      const g0 = pixelAt(gy, i, j, W, C);
      for (let ch = 0; ch < C; ch++) {
        const off = <usize>ch << 2;
        const g = load<f32>(g0 + off);
        // A tap outside adds 0 to the clamped pixel it reads.
        store<f32>(p00 + off, load<f32>(p00 + off) + w00 * g);
        store<f32>(p01 + off, load<f32>(p01 + off) + w01 * g);
        store<f32>(p10 + off, load<f32>(p10 + off) + w10 * g);
        store<f32>(p11 + off, load<f32>(p11 + off) + w11 * g);
      }
    }
  }
}

/** Writes ∂⟨gy, T(x)⟩/∂(θ, tx, ty) of one image at `o`. */
function bwdParamsExample(img: usize, gy: usize, o: usize, H: i32, W: i32, C: i32, cs: f32, sn: f32, tx: f32, ty: f32): void {
  const cx = <f32>(W - 1) * 0.5, cy = <f32>(H - 1) * 0.5;
  const ox = originX(W, cs, tx), oy = originY(W, H, sn, tx);
  let gTheta: f64 = 0, sumGsx: f64 = 0, sumGsy: f64 = 0;
  for (let i = 0; i < H; i++) {
    const rowX = rowStartX(ox, H, sn, ty, i), rowY = rowStartY(oy, H, cs, ty, i);
    for (let j = 0; j < W; j++) {
      const sx = cs * <f32>j + rowX, sy = sn * <f32>j + rowY;
      const a = sx - cx, b = sy - cy; // s − c
      const fx0 = Mathf.floor(sx), fy0 = Mathf.floor(sy);
      const fx = sx - fx0, fy = sy - fy0;
      const x0 = floorIndex(fx0, W), y0 = floorIndex(fy0, H);
      const wx0 = tapWeight(x0, W, 1 - fx), wx1 = tapWeight(x0 + 1, W, fx);
      const wy0 = tapWeight(y0, H, 1 - fy), wy1 = tapWeight(y0 + 1, H, fy);
      // Slopes ∂w/∂s of the taps: −1 for tap 0, +1 for tap 1, 0 outside.
      const dx0 = tapWeight(x0, W, -1), dx1 = tapWeight(x0 + 1, W, 1);
      const dy0 = tapWeight(y0, H, -1), dy1 = tapWeight(y0 + 1, H, 1);
      const xa = clampTap(x0, W), xb = clampTap(x0 + 1, W), ya = clampTap(y0, H), yb = clampTap(y0 + 1, H);
      const p00 = pixelAt(img, ya, xa, W, C), p01 = pixelAt(img, ya, xb, W, C);
      const p10 = pixelAt(img, yb, xa, W, C), p11 = pixelAt(img, yb, xb, W, C);
      const g0 = pixelAt(gy, i, j, W, C);
      // ∂⟨gy, y⟩/∂sx and ∂/∂sy at this output pixel, summed over channels.
      let gsx: f32 = 0, gsy: f32 = 0;
      for (let ch = 0; ch < C; ch++) {
        const off = <usize>ch << 2;
        const g = load<f32>(g0 + off);
        const v00 = load<f32>(p00 + off), v01 = load<f32>(p01 + off);
        const v10 = load<f32>(p10 + off), v11 = load<f32>(p11 + off);
        gsx += g * (wy0 * (dx0 * v00 + dx1 * v01) + wy1 * (dx0 * v10 + dx1 * v11));
        gsy += g * (wx0 * (dy0 * v00 + dy1 * v10) + wx1 * (dy0 * v01 + dy1 * v11));
      }
      // s = R(θ)(p − t − c) + c: ∂s/∂θ = (−(s − c)y, (s − c)x) = (−b, a), ∂s/∂t = −R(θ).
      gTheta += <f64>(gsy * a - gsx * b);
      sumGsx += <f64>gsx;
      sumGsy += <f64>gsy;
    }
  }
  storeParamGrads(o, gTheta, sumGsx, sumGsy, cs, sn);
}

/** gp = (gθ, −(cos·Σgsx + sin·Σgsy), sin·Σgsx − cos·Σgsy): ∂s/∂(tx, ty) = −R(θ) for every pixel. */
// @ts-ignore: decorator
@inline function storeParamGrads(o: usize, gTheta: f64, sumGsx: f64, sumGsy: f64, cs: f32, sn: f32): void {
  store<f32>(o, <f32>gTheta);
  store<f32>(o, <f32>(-(<f64>cs * sumGsx + <f64>sn * sumGsy)), 4);
  store<f32>(o, <f32>(<f64>sn * sumGsx - <f64>cs * sumGsy), 8);
}

export function f32_bilinear_fwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  assert(0 <= begin && begin <= end && end <= paramI32(params, 0), "f32_bilinear_fwd: range outside [0, N)");
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const tp = paramPtr(params, 4), xs = paramPtr(params, 5), ys = paramPtr(params, 6);
  const imageBytes = <usize>H * W * C << 2;
  for (let n = begin; n < end; n++) {
    const t = tp + <usize>n * 12, theta = load<f32>(t);
    const at = <usize>n * imageBytes;
    fwdExample(xs + at, ys + at, H, W, C, cosOf(theta), sinOf(theta), load<f32>(t, 4), load<f32>(t, 8));
  }
}

export function f32_bilinear_bwd_input__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  assert(0 <= begin && begin <= end && end <= paramI32(params, 0), "f32_bilinear_bwd_input: range outside [0, N)");
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const tp = paramPtr(params, 4), gys = paramPtr(params, 5), gxs = paramPtr(params, 6);
  const imageBytes = <usize>H * W * C << 2;
  for (let n = begin; n < end; n++) {
    const t = tp + <usize>n * 12, theta = load<f32>(t);
    const at = <usize>n * imageBytes;
    memory.fill(gxs + at, 0, imageBytes);
    bwdInputExample(gys + at, gxs + at, H, W, C, cosOf(theta), sinOf(theta), load<f32>(t, 4), load<f32>(t, 8));
  }
}

export function f32_bilinear_bwd_params__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  assert(0 <= begin && begin <= end && end <= paramI32(params, 0), "f32_bilinear_bwd_params: range outside [0, N)");
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const tp = paramPtr(params, 4), xs = paramPtr(params, 5), gys = paramPtr(params, 6), gp = paramPtr(params, 7);
  const imageBytes = <usize>H * W * C << 2;
  for (let n = begin; n < end; n++) {
    const t = tp + <usize>n * 12, theta = load<f32>(t);
    const at = <usize>n * imageBytes;
    bwdParamsExample(xs + at, gys + at, gp + <usize>n * 12, H, W, C, cosOf(theta), sinOf(theta), load<f32>(t, 4), load<f32>(t, 8));
  }
}

// ---------------------------------------------------------------------------------------------
// SIMD
// ---------------------------------------------------------------------------------------------

/** First pixel of the in-image tap pair of each lane: ⌊s⌋ clamped into [0, last] (NaN → 0). */
// @ts-ignore: decorator
@inline function pairStart(floored: v128, last: v128): v128 {
  return f32x4.pmin(last, f32x4.pmax(f32x4.splat(0), floored));
}

/** Lanes where tap 0 (⌊s⌋) is the pair's first pixel. */
// @ts-ignore: decorator
@inline function tap0First(floored: v128, start: v128): v128 { return f32x4.eq(floored, start); }
/** Lanes where tap 1 (⌊s⌋ + 1) is the pair's first pixel (⌊s⌋ = −1). */
// @ts-ignore: decorator
@inline function tap1First(floored: v128, start: v128): v128 { return f32x4.eq(f32x4.add(floored, f32x4.splat(1)), start); }
/** Lanes where tap 0 is the pair's second pixel (⌊s⌋ = size − 1). */
// @ts-ignore: decorator
@inline function tap0Second(floored: v128, start: v128): v128 { return f32x4.eq(floored, f32x4.add(start, f32x4.splat(1))); }

/** Weight of the pair's first pixel: 1 − f as tap 0, f as tap 1, else 0. */
// @ts-ignore: decorator
@inline function firstWeight(floored: v128, start: v128, frac: v128): v128 {
  return v128.or(v128.and(tap0First(floored, start), f32x4.sub(f32x4.splat(1), frac)), v128.and(tap1First(floored, start), frac));
}
/** Weight of the pair's second pixel: f as tap 1, 1 − f as tap 0, else 0. */
// @ts-ignore: decorator
@inline function secondWeight(floored: v128, start: v128, frac: v128): v128 {
  return v128.or(v128.and(tap0First(floored, start), frac), v128.and(tap0Second(floored, start), f32x4.sub(f32x4.splat(1), frac)));
}
/** Value of tap 0 (⌊s⌋) from the pair's values (first, second): first, second or 0 (outside). */
// @ts-ignore: decorator
@inline function tapValue0(floored: v128, start: v128, first: v128, second: v128): v128 {
  return v128.or(v128.and(tap0First(floored, start), first), v128.and(tap0Second(floored, start), second));
}
/** Value of tap 1 (⌊s⌋ + 1): second, first or 0 (outside). */
// @ts-ignore: decorator
@inline function tapValue1(floored: v128, start: v128, first: v128, second: v128): v128 {
  return v128.or(v128.and(tap0First(floored, start), second), v128.and(tap1First(floored, start), first));
}

/**
 * Byte addresses (i32x4) of the first pixel (ya, xa) of each lane's top pair. The index ya·W + xa
 * (exact in f32) is converted by adding 2^23, whose float bits are then 0x4B000000 + index: this
 * needs H·W ≤ 2^23 and is cheaper than i32x4.trunc_sat_f32x4_s.
 */
// @ts-ignore: decorator
@inline function pairAddresses(img: usize, xa: v128, ya: v128, W: i32): v128 {
  const bits = f32x4.add(f32x4.add(f32x4.mul(ya, f32x4.splat(<f32>W)), xa), f32x4.splat(8388608));
  return i32x4.add(i32x4.shl(bits, 2), i32x4.splat(<i32>img - (0x4B000000 << 2)));
}

/** The single-channel kernels need both pairs inside (W, H ≥ 2) and pixel indices below 2^23. */
// @ts-ignore: decorator
@inline function useC1(H: i32, W: i32, C: i32): bool { return C == 1 && W >= 2 && H >= 2 && <i64>H * W <= 1 << 23; }

/** Lanes 0, 2 of a and b: the first pixels of two interleaved pairs. */
// @ts-ignore: decorator
@inline function firsts(a: v128, b: v128): v128 { return f32x4.shuffle(a, b, 0, 2, 4, 6); }
/** Lanes 1, 3 of a and b: the second pixels. */
// @ts-ignore: decorator
@inline function seconds(a: v128, b: v128): v128 { return f32x4.shuffle(a, b, 1, 3, 5, 7); }

/** Loads `lanes` (1–3) floats at p into the low lanes of a zero vector. */
// @ts-ignore: decorator
@inline function loadPartial(p: usize, lanes: i32): v128 {
  let v = v128.load32_zero(p);
  if (lanes > 1) v = v128.load32_lane(p + 4, v, 1);
  if (lanes > 2) v = v128.load32_lane(p + 8, v, 2);
  return v;
}

/** Stores the low `lanes` (1–3) floats of v at p. */
// @ts-ignore: decorator
@inline function storePartial(p: usize, v: v128, lanes: i32): void {
  v128.store32_lane(p, v, 0);
  if (lanes > 1) v128.store32_lane(p + 4, v, 1);
  if (lanes > 2) v128.store32_lane(p + 8, v, 2);
}

/** Bound of the j where a + b·j stays in [margin, limit − margin]: the lower one (upper = false) or the upper one. */
// @ts-ignore: decorator
@inline function insideBound(a: f32, b: f32, limit: i32, margin: f64, upper: bool): f64 {
  const lo = margin - <f64>a, hi = <f64>limit - margin - <f64>a;
  if (b > 0) return (upper ? hi : lo) / <f64>b;
  if (b < 0) return (upper ? lo : hi) / <f64>b;
  const inside = lo <= 0 && hi >= 0;
  return upper ? (inside ? Infinity : -Infinity) : (inside ? -Infinity : Infinity);
}

/**
 * The 4-pixel groups [gLo, gHi) of a row whose 4 taps all lie inside (no zero fill), packed as
 * gLo | gHi << 32. The sample point is sx = rowX + cs·j, sy = rowY + sn·j; the margin is ≥ 8×
 * the f32 rounding of that multiply-add, so these groups need no clamping or masking.
 */
function interiorGroups(rowX: f32, rowY: f32, cs: f32, sn: f32, H: i32, W: i32): i64 {
  const size = <f64>(W + H);
  const marginX = (Math.abs(<f64>rowX) + Math.abs(<f64>cs) * size + size) * 1e-6;
  const marginY = (Math.abs(<f64>rowY) + Math.abs(<f64>sn) * size + size) * 1e-6;
  // ⌊s⌋ ∈ [0, size − 2] ⇔ 0 ≤ s < size − 1.
  const lo = max(max(insideBound(rowX, cs, W - 1, marginX, false), insideBound(rowY, sn, H - 1, marginY, false)), 0);
  const hi = min(min(insideBound(rowX, cs, W - 1, marginX, true), insideBound(rowY, sn, H - 1, marginY, true)), <f64>(W - 1));
  if (!(lo <= hi)) return 0;
  const gLo = (<i32>Math.ceil(lo) + 3) & ~3, gHi = (<i32>Math.floor(hi) + 1) & ~3;
  if (gHi <= gLo) return 0;
  return <i64>gLo | (<i64>gHi << 32);
}

/** y = T(x) of one single-channel image, W, H ≥ 2: 4 output pixels per vector. */
function fwdExampleC1(img: usize, out: usize, H: i32, W: i32, cs: f32, sn: f32, tx: f32, ty: f32): void {
  const ox = originX(W, cs, tx), oy = originY(W, H, sn, tx);
  const vcs = f32x4.splat(cs), vsn = f32x4.splat(sn), one = f32x4.splat(1);
  const lastX = f32x4.splat(<f32>(W - 2)), lastY = f32x4.splat(<f32>(H - 2));
  const rowBytes = <usize>W << 2;
  for (let i = 0; i < H; i++) {
    const rowX = rowStartX(ox, H, sn, ty, i), rowY = rowStartY(oy, H, cs, ty, i);
    const vRowX = f32x4.splat(rowX), vRowY = f32x4.splat(rowY);
    const groups = interiorGroups(rowX, rowY, cs, sn, H, W), gLo = <i32>groups, gHi = <i32>(groups >> 32);
    const o = out + <usize>i * rowBytes;
    let vj = f32x4(0, 1, 2, 3);
    for (let j = 0; j < W; j += 4) {
      const sx = f32x4.add(f32x4.mul(vcs, vj), vRowX), sy = f32x4.add(f32x4.mul(vsn, vj), vRowY);
      vj = f32x4.add(vj, f32x4.splat(4));
      const x0 = f32x4.floor(sx), y0 = f32x4.floor(sy);
      const fx = f32x4.sub(sx, x0), fy = f32x4.sub(sy, y0);
      // Interior groups: the pair is (⌊s⌋, ⌊s⌋ + 1) with weights (1 − f, f).
      let xa = x0, ya = y0, wL = f32x4.sub(one, fx), wR = fx, wT = f32x4.sub(one, fy), wB = fy;
      if (j < gLo || j >= gHi) {
        xa = pairStart(x0, lastX); ya = pairStart(y0, lastY);
        wL = firstWeight(x0, xa, fx); wR = secondWeight(x0, xa, fx);
        wT = firstWeight(y0, ya, fy); wB = secondWeight(y0, ya, fy);
      }
      const addr = pairAddresses(img, xa, ya, W);
      const a0 = <usize>i32x4.extract_lane(addr, 0), a1 = <usize>i32x4.extract_lane(addr, 1);
      const a2 = <usize>i32x4.extract_lane(addr, 2), a3 = <usize>i32x4.extract_lane(addr, 3);
      const t01 = v128.load64_lane(a1, v128.load64_zero(a0), 1), t23 = v128.load64_lane(a3, v128.load64_zero(a2), 1);
      const b01 = v128.load64_lane(a1 + rowBytes, v128.load64_zero(a0 + rowBytes), 1);
      const b23 = v128.load64_lane(a3 + rowBytes, v128.load64_zero(a2 + rowBytes), 1);
      const top = f32x4.add(f32x4.mul(wL, firsts(t01, t23)), f32x4.mul(wR, seconds(t01, t23)));
      const bottom = f32x4.add(f32x4.mul(wL, firsts(b01, b23)), f32x4.mul(wR, seconds(b01, b23)));
      const y = f32x4.add(f32x4.mul(wT, top), f32x4.mul(wB, bottom));
      const lanes = W - j;
      if (lanes >= 4) v128.store(o + (<usize>j << 2), y);
      else storePartial(o + (<usize>j << 2), y, lanes);
    }
  }
}

/** Bytes of the row table of bwdInputExampleC1: per 4-pixel group the pair addresses and 4 contribution pairs. */
// @ts-ignore: decorator
@inline function rowTableBytes(W: i32): i32 { return ((W + 3) >> 2) * 80; }

/**
 * gx = Tᵀ gy of one single-channel image, W, H ≥ 2; gx must be zero on entry. Per row: the
 * contributions of 4 pixels per vector go to a table in scratch, then are added to gx one pixel
 * at a time in the order j = 0, 4, 8, …, 1, 5, …: samples 4 pixels apart never share a tap, so an
 * add never waits for the previous pixel's overlapping store.
 */
function bwdInputExampleC1(gy: usize, gx: usize, tab: usize, H: i32, W: i32, cs: f32, sn: f32, tx: f32, ty: f32): void {
  const ox = originX(W, cs, tx), oy = originY(W, H, sn, tx);
  const vcs = f32x4.splat(cs), vsn = f32x4.splat(sn), one = f32x4.splat(1);
  const lastX = f32x4.splat(<f32>(W - 2)), lastY = f32x4.splat(<f32>(H - 2));
  const rowBytes = <usize>W << 2;
  for (let i = 0; i < H; i++) {
    const rowX = rowStartX(ox, H, sn, ty, i), rowY = rowStartY(oy, H, cs, ty, i);
    const vRowX = f32x4.splat(rowX), vRowY = f32x4.splat(rowY);
    const groups = interiorGroups(rowX, rowY, cs, sn, H, W), gLo = <i32>groups, gHi = <i32>(groups >> 32);
    const gRow = gy + <usize>i * rowBytes;
    let vj = f32x4(0, 1, 2, 3);
    let entry = tab;
    for (let j = 0; j < W; j += 4, entry += 80) {
      const sx = f32x4.add(f32x4.mul(vcs, vj), vRowX), sy = f32x4.add(f32x4.mul(vsn, vj), vRowY);
      vj = f32x4.add(vj, f32x4.splat(4));
      const x0 = f32x4.floor(sx), y0 = f32x4.floor(sy);
      const fx = f32x4.sub(sx, x0), fy = f32x4.sub(sy, y0);
      let xa = x0, ya = y0, wL = f32x4.sub(one, fx), wR = fx, wT = f32x4.sub(one, fy), wB = fy;
      if (j < gLo || j >= gHi) {
        xa = pairStart(x0, lastX); ya = pairStart(y0, lastY);
        wL = firstWeight(x0, xa, fx); wR = secondWeight(x0, xa, fx);
        wT = firstWeight(y0, ya, fy); wB = secondWeight(y0, ya, fy);
      }
      const lanes = W - j;
      const g = lanes >= 4 ? v128.load(gRow + (<usize>j << 2)) : loadPartial(gRow + (<usize>j << 2), lanes);
      const aTL = f32x4.mul(f32x4.mul(wL, wT), g), aTR = f32x4.mul(f32x4.mul(wR, wT), g);
      const aBL = f32x4.mul(f32x4.mul(wL, wB), g), aBR = f32x4.mul(f32x4.mul(wR, wB), g);
      // Table entry: addresses, then (first, second) contribution pairs of pixels 0–3, top then bottom.
      v128.store(entry, pairAddresses(gx, xa, ya, W));
      v128.store(entry, f32x4.shuffle(aTL, aTR, 0, 4, 1, 5), 16);
      v128.store(entry, f32x4.shuffle(aTL, aTR, 2, 6, 3, 7), 32);
      v128.store(entry, f32x4.shuffle(aBL, aBR, 0, 4, 1, 5), 48);
      v128.store(entry, f32x4.shuffle(aBL, aBR, 2, 6, 3, 7), 64);
    }
    for (let l = 0; l < 4; l++) {
      entry = tab;
      for (let j = l; j < W; j += 4, entry += 80) {
        const p = <usize>load<i32>(entry + (<usize>l << 2)), c = entry + (<usize>l << 3);
        v128.store64_lane(p, f32x4.add(v128.load64_zero(p), v128.load64_zero(c, 16)), 0);
        v128.store64_lane(p + rowBytes, f32x4.add(v128.load64_zero(p + rowBytes), v128.load64_zero(c, 48)), 0);
      }
    }
  }
}

/** ∂⟨gy, T(x)⟩/∂(θ, tx, ty) of one single-channel image at `o`, W, H ≥ 2. */
function bwdParamsExampleC1(img: usize, gy: usize, o: usize, H: i32, W: i32, cs: f32, sn: f32, tx: f32, ty: f32): void {
  const ox = originX(W, cs, tx), oy = originY(W, H, sn, tx);
  const vcs = f32x4.splat(cs), vsn = f32x4.splat(sn), one = f32x4.splat(1);
  const vcx = f32x4.splat(<f32>(W - 1) * 0.5), vcy = f32x4.splat(<f32>(H - 1) * 0.5);
  const lastX = f32x4.splat(<f32>(W - 2)), lastY = f32x4.splat(<f32>(H - 2));
  const rowBytes = <usize>W << 2;
  let gTheta: f64 = 0, sumGsx: f64 = 0, sumGsy: f64 = 0;
  for (let i = 0; i < H; i++) {
    const rowX = rowStartX(ox, H, sn, ty, i), rowY = rowStartY(oy, H, cs, ty, i);
    const vRowX = f32x4.splat(rowX), vRowY = f32x4.splat(rowY);
    const groups = interiorGroups(rowX, rowY, cs, sn, H, W), gLo = <i32>groups, gHi = <i32>(groups >> 32);
    const gRow = gy + <usize>i * rowBytes;
    let vj = f32x4(0, 1, 2, 3);
    let rowTheta = f32x4.splat(0), rowGsx = f32x4.splat(0), rowGsy = f32x4.splat(0);
    for (let j = 0; j < W; j += 4) {
      const sx = f32x4.add(f32x4.mul(vcs, vj), vRowX), sy = f32x4.add(f32x4.mul(vsn, vj), vRowY);
      vj = f32x4.add(vj, f32x4.splat(4));
      const x0 = f32x4.floor(sx), y0 = f32x4.floor(sy);
      const fx = f32x4.sub(sx, x0), fy = f32x4.sub(sy, y0);
      const interior = j >= gLo && j < gHi;
      let xa = x0, ya = y0;
      if (!interior) { xa = pairStart(x0, lastX); ya = pairStart(y0, lastY); }
      const addr = pairAddresses(img, xa, ya, W);
      const a0 = <usize>i32x4.extract_lane(addr, 0), a1 = <usize>i32x4.extract_lane(addr, 1);
      const a2 = <usize>i32x4.extract_lane(addr, 2), a3 = <usize>i32x4.extract_lane(addr, 3);
      const t01 = v128.load64_lane(a1, v128.load64_zero(a0), 1), t23 = v128.load64_lane(a3, v128.load64_zero(a2), 1);
      const b01 = v128.load64_lane(a1 + rowBytes, v128.load64_zero(a0 + rowBytes), 1);
      const b23 = v128.load64_lane(a3 + rowBytes, v128.load64_zero(a2 + rowBytes), 1);
      let vTL = firsts(t01, t23), vTR = seconds(t01, t23), vBL = firsts(b01, b23), vBR = seconds(b01, b23);
      if (!interior) {
        // Values of the taps (⌊s⌋, ⌊s⌋ + 1) from the in-image pair, 0 for taps outside.
        const xTL = tapValue0(x0, xa, vTL, vTR), xTR = tapValue1(x0, xa, vTL, vTR);
        const xBL = tapValue0(x0, xa, vBL, vBR), xBR = tapValue1(x0, xa, vBL, vBR);
        vTL = tapValue0(y0, ya, xTL, xBL); vBL = tapValue1(y0, ya, xTL, xBL);
        vTR = tapValue0(y0, ya, xTR, xBR); vBR = tapValue1(y0, ya, xTR, xBR);
      }
      const lanes = W - j;
      // Lanes past the row end get gy = 0: they add nothing.
      const g = lanes >= 4 ? v128.load(gRow + (<usize>j << 2)) : loadPartial(gRow + (<usize>j << 2), lanes);
      // ∂y/∂sx and ∂y/∂sy (tap slopes −1, +1), as in the scalar twin.
      const dsx = f32x4.add(f32x4.mul(f32x4.sub(one, fy), f32x4.sub(vTR, vTL)), f32x4.mul(fy, f32x4.sub(vBR, vBL)));
      const dsy = f32x4.add(f32x4.mul(f32x4.sub(one, fx), f32x4.sub(vBL, vTL)), f32x4.mul(fx, f32x4.sub(vBR, vTR)));
      const gsx = f32x4.mul(g, dsx), gsy = f32x4.mul(g, dsy);
      // ∂s/∂θ = (−(sy − cy), sx − cx).
      rowTheta = f32x4.add(rowTheta, f32x4.sub(f32x4.mul(gsy, f32x4.sub(sx, vcx)), f32x4.mul(gsx, f32x4.sub(sy, vcy))));
      rowGsx = f32x4.add(rowGsx, gsx);
      rowGsy = f32x4.add(rowGsy, gsy);
    }
    gTheta += sum4(rowTheta);
    sumGsx += sum4(rowGsx);
    sumGsy += sum4(rowGsy);
  }
  storeParamGrads(o, gTheta, sumGsx, sumGsy, cs, sn);
}

/** Sum of the 4 lanes in f64. */
// @ts-ignore: decorator
@inline function sum4(v: v128): f64 {
  return (<f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1)) + (<f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3));
}

/** y = T(x) of one image with C ≥ 4: the scalar twin's taps, channels in f32x4. */
function fwdExampleChannels(img: usize, out: usize, H: i32, W: i32, C: i32, cs: f32, sn: f32, tx: f32, ty: f32): void {
  const ox = originX(W, cs, tx), oy = originY(W, H, sn, tx);
  for (let i = 0; i < H; i++) {
    const rowX = rowStartX(ox, H, sn, ty, i), rowY = rowStartY(oy, H, cs, ty, i);
    for (let j = 0; j < W; j++) {
      const sx = cs * <f32>j + rowX, sy = sn * <f32>j + rowY;
      const fx0 = Mathf.floor(sx), fy0 = Mathf.floor(sy);
      const fx = sx - fx0, fy = sy - fy0;
      const x0 = floorIndex(fx0, W), y0 = floorIndex(fy0, H);
      const wx0 = tapWeight(x0, W, 1 - fx), wx1 = tapWeight(x0 + 1, W, fx);
      const wy0 = tapWeight(y0, H, 1 - fy), wy1 = tapWeight(y0 + 1, H, fy);
      const xa = clampTap(x0, W), xb = clampTap(x0 + 1, W), ya = clampTap(y0, H), yb = clampTap(y0 + 1, H);
      const p00 = pixelAt(img, ya, xa, W, C), p01 = pixelAt(img, ya, xb, W, C);
      const p10 = pixelAt(img, yb, xa, W, C), p11 = pixelAt(img, yb, xb, W, C);
      const o = pixelAt(out, i, j, W, C);
      const vx0 = f32x4.splat(wx0), vx1 = f32x4.splat(wx1), vy0 = f32x4.splat(wy0), vy1 = f32x4.splat(wy1);
      let ch = 0;
      for (; ch + 4 <= C; ch += 4) {
        const off = <usize>ch << 2;
        const top = f32x4.add(f32x4.mul(vx0, v128.load(p00 + off)), f32x4.mul(vx1, v128.load(p01 + off)));
        const bottom = f32x4.add(f32x4.mul(vx0, v128.load(p10 + off)), f32x4.mul(vx1, v128.load(p11 + off)));
        v128.store(o + off, f32x4.add(f32x4.mul(vy0, top), f32x4.mul(vy1, bottom)));
      }
      for (; ch < C; ch++) {
        const off = <usize>ch << 2;
        const top = wx0 * load<f32>(p00 + off) + wx1 * load<f32>(p01 + off);
        const bottom = wx0 * load<f32>(p10 + off) + wx1 * load<f32>(p11 + off);
        store<f32>(o + off, wy0 * top + wy1 * bottom);
      }
    }
  }
}

/** gx = Tᵀ gy of one image with C ≥ 4 (gx zero on entry): the scalar twin's taps, channels in f32x4. */
function bwdInputExampleChannels(gy: usize, gx: usize, H: i32, W: i32, C: i32, cs: f32, sn: f32, tx: f32, ty: f32): void {
  const ox = originX(W, cs, tx), oy = originY(W, H, sn, tx);
  for (let i = 0; i < H; i++) {
    const rowX = rowStartX(ox, H, sn, ty, i), rowY = rowStartY(oy, H, cs, ty, i);
    for (let j = 0; j < W; j++) {
      const sx = cs * <f32>j + rowX, sy = sn * <f32>j + rowY;
      const fx0 = Mathf.floor(sx), fy0 = Mathf.floor(sy);
      const fx = sx - fx0, fy = sy - fy0;
      const x0 = floorIndex(fx0, W), y0 = floorIndex(fy0, H);
      const wx0 = tapWeight(x0, W, 1 - fx), wx1 = tapWeight(x0 + 1, W, fx);
      const wy0 = tapWeight(y0, H, 1 - fy), wy1 = tapWeight(y0 + 1, H, fy);
      const xa = clampTap(x0, W), xb = clampTap(x0 + 1, W), ya = clampTap(y0, H), yb = clampTap(y0 + 1, H);
      const p00 = pixelAt(gx, ya, xa, W, C), p01 = pixelAt(gx, ya, xb, W, C);
      const p10 = pixelAt(gx, yb, xa, W, C), p11 = pixelAt(gx, yb, xb, W, C);
      const w00 = wx0 * wy0, w01 = wx1 * wy0, w10 = wx0 * wy1, w11 = wx1 * wy1;
      const g0 = pixelAt(gy, i, j, W, C);
      const v00 = f32x4.splat(w00), v01 = f32x4.splat(w01), v10 = f32x4.splat(w10), v11 = f32x4.splat(w11);
      let ch = 0;
      for (; ch + 4 <= C; ch += 4) {
        const off = <usize>ch << 2;
        const g = v128.load(g0 + off);
        v128.store(p00 + off, f32x4.add(v128.load(p00 + off), f32x4.mul(v00, g)));
        v128.store(p01 + off, f32x4.add(v128.load(p01 + off), f32x4.mul(v01, g)));
        v128.store(p10 + off, f32x4.add(v128.load(p10 + off), f32x4.mul(v10, g)));
        v128.store(p11 + off, f32x4.add(v128.load(p11 + off), f32x4.mul(v11, g)));
      }
      for (; ch < C; ch++) {
        const off = <usize>ch << 2;
        const g = load<f32>(g0 + off);
        store<f32>(p00 + off, load<f32>(p00 + off) + w00 * g);
        store<f32>(p01 + off, load<f32>(p01 + off) + w01 * g);
        store<f32>(p10 + off, load<f32>(p10 + off) + w10 * g);
        store<f32>(p11 + off, load<f32>(p11 + off) + w11 * g);
      }
    }
  }
}

/** ∂⟨gy, T(x)⟩/∂(θ, tx, ty) of one image with C ≥ 4 at `o`: the scalar twin's taps, channels in f32x4. */
function bwdParamsExampleChannels(img: usize, gy: usize, o: usize, H: i32, W: i32, C: i32, cs: f32, sn: f32, tx: f32, ty: f32): void {
  const cx = <f32>(W - 1) * 0.5, cy = <f32>(H - 1) * 0.5;
  const ox = originX(W, cs, tx), oy = originY(W, H, sn, tx);
  let gTheta: f64 = 0, sumGsx: f64 = 0, sumGsy: f64 = 0;
  for (let i = 0; i < H; i++) {
    const rowX = rowStartX(ox, H, sn, ty, i), rowY = rowStartY(oy, H, cs, ty, i);
    for (let j = 0; j < W; j++) {
      const sx = cs * <f32>j + rowX, sy = sn * <f32>j + rowY;
      const a = sx - cx, b = sy - cy;
      const fx0 = Mathf.floor(sx), fy0 = Mathf.floor(sy);
      const fx = sx - fx0, fy = sy - fy0;
      const x0 = floorIndex(fx0, W), y0 = floorIndex(fy0, H);
      const wx0 = tapWeight(x0, W, 1 - fx), wx1 = tapWeight(x0 + 1, W, fx);
      const wy0 = tapWeight(y0, H, 1 - fy), wy1 = tapWeight(y0 + 1, H, fy);
      const dx0 = tapWeight(x0, W, -1), dx1 = tapWeight(x0 + 1, W, 1);
      const dy0 = tapWeight(y0, H, -1), dy1 = tapWeight(y0 + 1, H, 1);
      const xa = clampTap(x0, W), xb = clampTap(x0 + 1, W), ya = clampTap(y0, H), yb = clampTap(y0 + 1, H);
      const p00 = pixelAt(img, ya, xa, W, C), p01 = pixelAt(img, ya, xb, W, C);
      const p10 = pixelAt(img, yb, xa, W, C), p11 = pixelAt(img, yb, xb, W, C);
      const g0 = pixelAt(gy, i, j, W, C);
      const vwx0 = f32x4.splat(wx0), vwx1 = f32x4.splat(wx1), vwy0 = f32x4.splat(wy0), vwy1 = f32x4.splat(wy1);
      const vdx0 = f32x4.splat(dx0), vdx1 = f32x4.splat(dx1), vdy0 = f32x4.splat(dy0), vdy1 = f32x4.splat(dy1);
      let vgsx = f32x4.splat(0), vgsy = f32x4.splat(0);
      let ch = 0;
      for (; ch + 4 <= C; ch += 4) {
        const off = <usize>ch << 2;
        const g = v128.load(g0 + off);
        const v00 = v128.load(p00 + off), v01 = v128.load(p01 + off), v10 = v128.load(p10 + off), v11 = v128.load(p11 + off);
        vgsx = f32x4.add(vgsx, f32x4.mul(g, f32x4.add(
          f32x4.mul(vwy0, f32x4.add(f32x4.mul(vdx0, v00), f32x4.mul(vdx1, v01))),
          f32x4.mul(vwy1, f32x4.add(f32x4.mul(vdx0, v10), f32x4.mul(vdx1, v11))))));
        vgsy = f32x4.add(vgsy, f32x4.mul(g, f32x4.add(
          f32x4.mul(vwx0, f32x4.add(f32x4.mul(vdy0, v00), f32x4.mul(vdy1, v10))),
          f32x4.mul(vwx1, f32x4.add(f32x4.mul(vdy0, v01), f32x4.mul(vdy1, v11))))));
      }
      let gsx = <f32>sum4(vgsx), gsy = <f32>sum4(vgsy);
      for (; ch < C; ch++) {
        const off = <usize>ch << 2;
        const g = load<f32>(g0 + off);
        const v00 = load<f32>(p00 + off), v01 = load<f32>(p01 + off);
        const v10 = load<f32>(p10 + off), v11 = load<f32>(p11 + off);
        gsx += g * (wy0 * (dx0 * v00 + dx1 * v01) + wy1 * (dx0 * v10 + dx1 * v11));
        gsy += g * (wx0 * (dy0 * v00 + dy1 * v10) + wx1 * (dy0 * v01 + dy1 * v11));
      }
      gTheta += <f64>(gsy * a - gsx * b);
      sumGsx += <f64>gsx;
      sumGsy += <f64>gsy;
    }
  }
  storeParamGrads(o, gTheta, sumGsx, sumGsy, cs, sn);
}

export function f32_bilinear_fwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  assert(0 <= begin && begin <= end && end <= paramI32(params, 0), "f32_bilinear_fwd: range outside [0, N)");
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const tp = paramPtr(params, 4), xs = paramPtr(params, 5), ys = paramPtr(params, 6);
  const imageBytes = <usize>H * W * C << 2;
  for (let n = begin; n < end; n++) {
    const t = tp + <usize>n * 12, theta = load<f32>(t);
    const cs = cosOf(theta), sn = sinOf(theta), tx = load<f32>(t, 4), ty = load<f32>(t, 8);
    const img = xs + <usize>n * imageBytes, out = ys + <usize>n * imageBytes;
    if (useC1(H, W, C)) fwdExampleC1(img, out, H, W, cs, sn, tx, ty);
    else if (C >= 4) fwdExampleChannels(img, out, H, W, C, cs, sn, tx, ty);
    else fwdExample(img, out, H, W, C, cs, sn, tx, ty);
  }
}

export function f32_bilinear_bwd_input__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  assert(0 <= begin && begin <= end && end <= paramI32(params, 0), "f32_bilinear_bwd_input: range outside [0, N)");
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const tp = paramPtr(params, 4), gys = paramPtr(params, 5), gxs = paramPtr(params, 6);
  const imageBytes = <usize>H * W * C << 2;
  for (let n = begin; n < end; n++) {
    const t = tp + <usize>n * 12, theta = load<f32>(t);
    const cs = cosOf(theta), sn = sinOf(theta), tx = load<f32>(t, 4), ty = load<f32>(t, 8);
    const gy = gys + <usize>n * imageBytes, gx = gxs + <usize>n * imageBytes;
    memory.fill(gx, 0, imageBytes);
    if (useC1(H, W, C)) bwdInputExampleC1(gy, gx, scratch, H, W, cs, sn, tx, ty);
    else if (C >= 4) bwdInputExampleChannels(gy, gx, H, W, C, cs, sn, tx, ty);
    else bwdInputExample(gy, gx, H, W, C, cs, sn, tx, ty);
  }
}

export function f32_bilinear_bwd_params__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  assert(0 <= begin && begin <= end && end <= paramI32(params, 0), "f32_bilinear_bwd_params: range outside [0, N)");
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const tp = paramPtr(params, 4), xs = paramPtr(params, 5), gys = paramPtr(params, 6), gp = paramPtr(params, 7);
  const imageBytes = <usize>H * W * C << 2;
  for (let n = begin; n < end; n++) {
    const t = tp + <usize>n * 12, theta = load<f32>(t);
    const cs = cosOf(theta), sn = sinOf(theta), tx = load<f32>(t, 4), ty = load<f32>(t, 8);
    const img = xs + <usize>n * imageBytes, gy = gys + <usize>n * imageBytes, o = gp + <usize>n * 12;
    if (useC1(H, W, C)) bwdParamsExampleC1(img, gy, o, H, W, cs, sn, tx, ty);
    else if (C >= 4) bwdParamsExampleChannels(img, gy, o, H, W, C, cs, sn, tx, ty);
    else bwdParamsExample(img, gy, o, H, W, C, cs, sn, tx, ty);
  }
}
