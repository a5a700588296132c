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
// Variants: __scalar per pixel, per corner, readable. __simd computes coordinates, weights, corner
//   validity and indices for 4 output pixels at a time (f32x4), then gathers branch-free (invalid
//   corners read index 0 with weight 0: inputs must be finite); C = 1 also blends 4 pixels per
//   vector, C ≥ 4 vectorises over channels.
// Threading contract: [begin, end) splits the examples (scatter of the adjoint stays in one
//   example). Scratch: f32_bilinear_*_scratch = 256 bytes (one 4-pixel table, simd only).
// Trigonometry: own sincos (quadrant reduction + Taylor in f64): AS's Math.cos keeps temporaries in
//   module globals, which kernels must not use.
import { paramI32, paramPtr } from "./simd";

const HALF_PI: f64 = 1.5707963267948966;

/** sin(θ) for |θ| ≤ π/4 (Taylor to degree 19: error < 1e-17). */
function sinSmall(r: f64): f64 {
  const r2 = r * r;
  let term = r, sum = r;
  for (let k = 1; k <= 9; k++) {
    term *= -r2 / <f64>((2 * k) * (2 * k + 1));
    sum += term;
  }
  return sum;
}

/** cos(θ) for |θ| ≤ π/4 (Taylor to degree 20). */
function cosSmall(r: f64): f64 {
  const r2 = r * r;
  let term: f64 = 1, sum: f64 = 1;
  for (let k = 1; k <= 10; k++) {
    term *= -r2 / <f64>((2 * k - 1) * (2 * k));
    sum += term;
  }
  return sum;
}

/** Writes (cos θ, sin θ) as two f32 at `out`. θ = 0 gives exactly (1, 0). */
function sincos(theta: f64, out: usize): void {
  const q = Math.round(theta / HALF_PI);
  const r = theta - q * HALF_PI;
  const s = sinSmall(r), c = cosSmall(r);
  const quadrant = (<i64>q) & 3;
  let sn = s, cs = c;
  if (quadrant == 1) { sn = c; cs = -s; }
  else if (quadrant == 2) { sn = -s; cs = -c; }
  else if (quadrant == 3) { sn = -c; cs = s; }
  store<f32>(out, <f32>cs);
  store<f32>(out, <f32>sn, 4);
}

/** Bytes of scratch: a 4-pixel table (simd) plus room for sincos (scalar). */
export function f32_bilinear_fwd_scratch(params: usize): i32 { return 256; }
export function f32_bilinear_bwd_input_scratch(params: usize): i32 { return 256; }
export function f32_bilinear_bwd_params_scratch(params: usize): i32 { return 256; }

// ---------------------------------------------------------------------------------------------
// Scalar reference
// ---------------------------------------------------------------------------------------------

/** Input pixel (y, x), channel ch of one image, 0 outside. */
// @ts-ignore: decorator
@inline function pixel(img: usize, H: i32, W: i32, C: i32, y: i32, x: i32, ch: i32): f32 {
  if (y < 0 || y >= H || x < 0 || x >= W) return 0;
  return load<f32>(img + ((<usize>(y * W + x) * C + ch) << 2));
}

/** Adds v to pixel (y, x), channel ch of one image, when it is inside. */
// @ts-ignore: decorator
@inline function addPixel(img: usize, H: i32, W: i32, C: i32, y: i32, x: i32, ch: i32, v: f32): void {
  if (y < 0 || y >= H || x < 0 || x >= W) return;
  const p = img + ((<usize>(y * W + x) * C + ch) << 2);
  store<f32>(p, load<f32>(p) + v);
}

/** Floor of a sample coordinate, clamped into [−2, size + 1] so it converts safely (NaN → −2). */
// @ts-ignore: decorator
@inline function floorIndex(s: f32, size: i32): i32 {
  const f = Mathf.floor(s);
  if (!(f >= -2)) return -2;
  if (f > <f32>(size + 1)) return size + 1;
  return <i32>f;
}

export function f32_bilinear_fwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const tp = paramPtr(params, 4), xs = paramPtr(params, 5), ys = paramPtr(params, 6);
  const cx = <f32>(W - 1) * 0.5, cy = <f32>(H - 1) * 0.5;
  const imageBytes = <usize>H * W * C << 2;
  for (let n = begin; n < end; n++) {
    const t = tp + (<usize>n * 12);
    sincos(<f64>load<f32>(t), scratch);
    const cs = load<f32>(scratch), sn = load<f32>(scratch, 4);
    const tx = load<f32>(t, 4), ty = load<f32>(t, 8);
    const img = xs + <usize>n * imageBytes, out = ys + <usize>n * imageBytes;
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        const u = <f32>j - tx - cx, v = <f32>i - ty - cy;
        const sx = cs * u - sn * v + cx, sy = sn * u + cs * v + cy;
        const x0 = floorIndex(sx, W), y0 = floorIndex(sy, H);
        const fx = sx - <f32>x0, fy = sy - <f32>y0;
        for (let ch = 0; ch < C; ch++) {
          const top = (<f32>1 - fx) * pixel(img, H, W, C, y0, x0, ch) + fx * pixel(img, H, W, C, y0, x0 + 1, ch);
          const bottom = (<f32>1 - fx) * pixel(img, H, W, C, y0 + 1, x0, ch) + fx * pixel(img, H, W, C, y0 + 1, x0 + 1, ch);
          store<f32>(out + ((<usize>(i * W + j) * C + ch) << 2), (<f32>1 - fy) * top + fy * bottom);
        }
      }
    }
  }
}

export function f32_bilinear_bwd_input__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const tp = paramPtr(params, 4), gys = paramPtr(params, 5), gxs = paramPtr(params, 6);
  const cx = <f32>(W - 1) * 0.5, cy = <f32>(H - 1) * 0.5;
  const imageBytes = <usize>H * W * C << 2;
  for (let n = begin; n < end; n++) {
    const t = tp + (<usize>n * 12);
    sincos(<f64>load<f32>(t), scratch);
    const cs = load<f32>(scratch), sn = load<f32>(scratch, 4);
    const tx = load<f32>(t, 4), ty = load<f32>(t, 8);
    const gy = gys + <usize>n * imageBytes, gx = gxs + <usize>n * imageBytes;
    memory.fill(gx, 0, imageBytes);
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        const u = <f32>j - tx - cx, v = <f32>i - ty - cy;
        const sx = cs * u - sn * v + cx, sy = sn * u + cs * v + cy;
        const x0 = floorIndex(sx, W), y0 = floorIndex(sy, H);
        const fx = sx - <f32>x0, fy = sy - <f32>y0;
        for (let ch = 0; ch < C; ch++) {
          const g = load<f32>(gy + ((<usize>(i * W + j) * C + ch) << 2));
          addPixel(gx, H, W, C, y0, x0, ch, (<f32>1 - fx) * (<f32>1 - fy) * g);
          addPixel(gx, H, W, C, y0, x0 + 1, ch, fx * (<f32>1 - fy) * g);
          addPixel(gx, H, W, C, y0 + 1, x0, ch, (<f32>1 - fx) * fy * g);
          addPixel(gx, H, W, C, y0 + 1, x0 + 1, ch, fx * fy * g);
        }
      }
    }
  }
}

export function f32_bilinear_bwd_params__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const tp = paramPtr(params, 4), xs = paramPtr(params, 5), gys = paramPtr(params, 6), gp = paramPtr(params, 7);
  const cx = <f32>(W - 1) * 0.5, cy = <f32>(H - 1) * 0.5;
  const imageBytes = <usize>H * W * C << 2;
  for (let n = begin; n < end; n++) {
    const t = tp + (<usize>n * 12);
    sincos(<f64>load<f32>(t), scratch);
    const cs = load<f32>(scratch), sn = load<f32>(scratch, 4);
    const tx = load<f32>(t, 4), ty = load<f32>(t, 8);
    const img = xs + <usize>n * imageBytes, gy = gys + <usize>n * imageBytes;
    let gTheta: f64 = 0, gTx: f64 = 0, gTy: f64 = 0;
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        const u = <f32>j - tx - cx, v = <f32>i - ty - cy;
        const sx = cs * u - sn * v + cx, sy = sn * u + cs * v + cy;
        const x0 = floorIndex(sx, W), y0 = floorIndex(sy, H);
        const fx = sx - <f32>x0, fy = sy - <f32>y0;
        // ∂⟨gy, y⟩/∂sx and ∂/∂sy at this output pixel, summed over channels.
        let gsx: f32 = 0, gsy: f32 = 0;
        for (let ch = 0; ch < C; ch++) {
          const g = load<f32>(gy + ((<usize>(i * W + j) * C + ch) << 2));
          const p00 = pixel(img, H, W, C, y0, x0, ch), p01 = pixel(img, H, W, C, y0, x0 + 1, ch);
          const p10 = pixel(img, H, W, C, y0 + 1, x0, ch), p11 = pixel(img, H, W, C, y0 + 1, x0 + 1, ch);
          gsx += g * ((<f32>1 - fy) * (p01 - p00) + fy * (p11 - p10));
          gsy += g * ((<f32>1 - fx) * (p10 - p00) + fx * (p11 - p01));
        }
        // s = R(θ)(p − t − c) + c: ∂s/∂θ = (−sin·u − cos·v, cos·u − sin·v), ∂s/∂t = −R(θ).
        gTheta += <f64>(gsx * (-sn * u - cs * v) + gsy * (cs * u - sn * v));
        gTx += <f64>(-(gsx * cs + gsy * sn));
        gTy += <f64>(gsx * sn - gsy * cs);
      }
    }
    const o = gp + (<usize>n * 12);
    store<f32>(o, <f32>gTheta);
    store<f32>(o, <f32>gTx, 4);
    store<f32>(o, <f32>gTy, 8);
  }
}

// ---------------------------------------------------------------------------------------------
// SIMD
// ---------------------------------------------------------------------------------------------

// Layout of the 4-pixel table in scratch (v128 slots): 0–3 corner float indices (00, 01, 10, 11),
// 4–7 weights, 8–11 validity masks, 12 fx, 13 fy, 14 u, 15 v.
// @ts-ignore: decorator
@inline function slot(tab: usize, k: i32): usize { return tab + (<usize>k << 4); }

/**
 * Fills the table for output pixels (i, j..j+3): sample coordinates, floor, fractional parts,
 * corner validity, branch-free gather indices (0 where invalid) and masked weights.
 */
function fillTable(tab: usize, i: i32, j: i32, H: i32, W: i32, C: i32, cs: f32, sn: f32, tx: f32, ty: f32, cx: f32, cy: f32): void {
  const vj = f32x4.add(f32x4.splat(<f32>j), f32x4(0, 1, 2, 3));
  const vu = f32x4.sub(vj, f32x4.splat(tx + cx));
  const vv = f32x4.splat(<f32>i - ty - cy);
  const vcs = f32x4.splat(cs), vsn = f32x4.splat(sn);
  // Same operation order as the scalar twin: cs·u − sn·v + cx.
  const vsx = f32x4.add(f32x4.sub(f32x4.mul(vcs, vu), f32x4.mul(vsn, vv)), f32x4.splat(cx));
  const vsy = f32x4.add(f32x4.add(f32x4.mul(vsn, vu), f32x4.mul(vcs, vv)), f32x4.splat(cy));
  const vx0 = f32x4.floor(vsx), vy0 = f32x4.floor(vsy);
  const vfx = f32x4.sub(vsx, vx0), vfy = f32x4.sub(vsy, vy0);
  const vzero = f32x4.splat(0), vone = f32x4.splat(1), vmone = f32x4.splat(-1);
  const vw1 = f32x4.splat(<f32>(W - 1)), vw2 = f32x4.splat(<f32>(W - 2));
  const vh1 = f32x4.splat(<f32>(H - 1)), vh2 = f32x4.splat(<f32>(H - 2));
  const okx0 = v128.and(f32x4.ge(vx0, vzero), f32x4.le(vx0, vw1));
  const okx1 = v128.and(f32x4.ge(vx0, vmone), f32x4.le(vx0, vw2));
  const oky0 = v128.and(f32x4.ge(vy0, vzero), f32x4.le(vy0, vh1));
  const oky1 = v128.and(f32x4.ge(vy0, vmone), f32x4.le(vy0, vh2));
  const m00 = v128.and(oky0, okx0), m01 = v128.and(oky0, okx1), m10 = v128.and(oky1, okx0), m11 = v128.and(oky1, okx1);
  // Float index of corner (y0, x0): (y0·W + x0)·C; exact in f32 for images below 2^24 floats.
  const vbase = i32x4.trunc_sat_f32x4_s(f32x4.mul(f32x4.add(f32x4.mul(vy0, f32x4.splat(<f32>W)), vx0), f32x4.splat(<f32>C)));
  const vC = i32x4.splat(C), vWC = i32x4.splat(W * C);
  v128.store(slot(tab, 0), v128.and(vbase, m00));
  v128.store(slot(tab, 1), v128.and(i32x4.add(vbase, vC), m01));
  v128.store(slot(tab, 2), v128.and(i32x4.add(vbase, vWC), m10));
  v128.store(slot(tab, 3), v128.and(i32x4.add(i32x4.add(vbase, vWC), vC), m11));
  const gx = f32x4.sub(vone, vfx), gy = f32x4.sub(vone, vfy);
  v128.store(slot(tab, 4), v128.and(f32x4.mul(gx, gy), m00));
  v128.store(slot(tab, 5), v128.and(f32x4.mul(vfx, gy), m01));
  v128.store(slot(tab, 6), v128.and(f32x4.mul(gx, vfy), m10));
  v128.store(slot(tab, 7), v128.and(f32x4.mul(vfx, vfy), m11));
  v128.store(slot(tab, 8), v128.and(vone, m00));
  v128.store(slot(tab, 9), v128.and(vone, m01));
  v128.store(slot(tab, 10), v128.and(vone, m10));
  v128.store(slot(tab, 11), v128.and(vone, m11));
  v128.store(slot(tab, 12), vfx);
  v128.store(slot(tab, 13), vfy);
  v128.store(slot(tab, 14), vu);
  v128.store(slot(tab, 15), vv);
}

/** Gathers img[idx[l]] for the 4 lanes of table slot k (channel offset ch). */
// @ts-ignore: decorator
@inline function gather4(img: usize, tab: usize, k: i32, ch: i32): v128 {
  const p = slot(tab, k);
  let v = f32x4.splat(load<f32>(img + ((<usize>(load<i32>(p) + ch)) << 2)));
  v = f32x4.replace_lane(v, 1, load<f32>(img + ((<usize>(load<i32>(p, 4) + ch)) << 2)));
  v = f32x4.replace_lane(v, 2, load<f32>(img + ((<usize>(load<i32>(p, 8) + ch)) << 2)));
  v = f32x4.replace_lane(v, 3, load<f32>(img + ((<usize>(load<i32>(p, 12) + ch)) << 2)));
  return v;
}

// @ts-ignore: decorator
@inline function tabI32(tab: usize, k: i32, lane: i32): i32 { return load<i32>(slot(tab, k) + (<usize>lane << 2)); }
// @ts-ignore: decorator
@inline function tabF32(tab: usize, k: i32, lane: i32): f32 { return load<f32>(slot(tab, k) + (<usize>lane << 2)); }

export function f32_bilinear_fwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const tp = paramPtr(params, 4), xs = paramPtr(params, 5), ys = paramPtr(params, 6);
  const cx = <f32>(W - 1) * 0.5, cy = <f32>(H - 1) * 0.5;
  const imageBytes = <usize>H * W * C << 2;
  const tab = scratch;
  for (let n = begin; n < end; n++) {
    const t = tp + (<usize>n * 12);
    sincos(<f64>load<f32>(t), tab);
    const cs = load<f32>(tab), sn = load<f32>(tab, 4);
    const tx = load<f32>(t, 4), ty = load<f32>(t, 8);
    const img = xs + <usize>n * imageBytes, out = ys + <usize>n * imageBytes;
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j += 4) {
        fillTable(tab, i, j, H, W, C, cs, sn, tx, ty, cx, cy);
        const lanes = min(4, W - j);
        const o = out + ((<usize>(i * W + j) * C) << 2);
        if (C == 1) {
          const v = f32x4.add(
            f32x4.add(f32x4.mul(v128.load(slot(tab, 4)), gather4(img, tab, 0, 0)), f32x4.mul(v128.load(slot(tab, 5)), gather4(img, tab, 1, 0))),
            f32x4.add(f32x4.mul(v128.load(slot(tab, 6)), gather4(img, tab, 2, 0)), f32x4.mul(v128.load(slot(tab, 7)), gather4(img, tab, 3, 0))));
          if (lanes == 4) v128.store(o, v);
          else {
            store<f32>(o, f32x4.extract_lane(v, 0));
            if (lanes > 1) store<f32>(o, f32x4.extract_lane(v, 1), 4);
            if (lanes > 2) store<f32>(o, f32x4.extract_lane(v, 2), 8);
          }
          continue;
        }
        for (let l = 0; l < lanes; l++) {
          const i00 = img + (<usize>tabI32(tab, 0, l) << 2), i01 = img + (<usize>tabI32(tab, 1, l) << 2);
          const i10 = img + (<usize>tabI32(tab, 2, l) << 2), i11 = img + (<usize>tabI32(tab, 3, l) << 2);
          const w00 = tabF32(tab, 4, l), w01 = tabF32(tab, 5, l), w10 = tabF32(tab, 6, l), w11 = tabF32(tab, 7, l);
          const vw00 = f32x4.splat(w00), vw01 = f32x4.splat(w01), vw10 = f32x4.splat(w10), vw11 = f32x4.splat(w11);
          const op = o + ((<usize>(l * C)) << 2);
          let ch = 0;
          for (; ch + 4 <= C; ch += 4) {
            const off = <usize>ch << 2;
            v128.store(op + off, f32x4.add(
              f32x4.add(f32x4.mul(vw00, v128.load(i00 + off)), f32x4.mul(vw01, v128.load(i01 + off))),
              f32x4.add(f32x4.mul(vw10, v128.load(i10 + off)), f32x4.mul(vw11, v128.load(i11 + off)))));
          }
          for (; ch < C; ch++) {
            const off = <usize>ch << 2;
            store<f32>(op + off, (w00 * load<f32>(i00 + off) + w01 * load<f32>(i01 + off)) + (w10 * load<f32>(i10 + off) + w11 * load<f32>(i11 + off)));
          }
        }
      }
    }
  }
}

export function f32_bilinear_bwd_input__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const tp = paramPtr(params, 4), gys = paramPtr(params, 5), gxs = paramPtr(params, 6);
  const cx = <f32>(W - 1) * 0.5, cy = <f32>(H - 1) * 0.5;
  const imageBytes = <usize>H * W * C << 2;
  const tab = scratch;
  for (let n = begin; n < end; n++) {
    const t = tp + (<usize>n * 12);
    sincos(<f64>load<f32>(t), tab);
    const cs = load<f32>(tab), sn = load<f32>(tab, 4);
    const tx = load<f32>(t, 4), ty = load<f32>(t, 8);
    const gy = gys + <usize>n * imageBytes, gx = gxs + <usize>n * imageBytes;
    memory.fill(gx, 0, imageBytes);
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j += 4) {
        fillTable(tab, i, j, H, W, C, cs, sn, tx, ty, cx, cy);
        const lanes = min(4, W - j);
        const g = gy + ((<usize>(i * W + j) * C) << 2);
        for (let l = 0; l < lanes; l++) {
          // Invalid corners have index 0 and weight 0: they add 0 to gx[0].
          const i00 = gx + (<usize>tabI32(tab, 0, l) << 2), i01 = gx + (<usize>tabI32(tab, 1, l) << 2);
          const i10 = gx + (<usize>tabI32(tab, 2, l) << 2), i11 = gx + (<usize>tabI32(tab, 3, l) << 2);
          const w00 = tabF32(tab, 4, l), w01 = tabF32(tab, 5, l), w10 = tabF32(tab, 6, l), w11 = tabF32(tab, 7, l);
          const gp = g + ((<usize>(l * C)) << 2);
          let ch = 0;
          if (C >= 4) {
            const vw00 = f32x4.splat(w00), vw01 = f32x4.splat(w01), vw10 = f32x4.splat(w10), vw11 = f32x4.splat(w11);
            for (; ch + 4 <= C; ch += 4) {
              const off = <usize>ch << 2;
              const vg = v128.load(gp + off);
              v128.store(i00 + off, f32x4.add(v128.load(i00 + off), f32x4.mul(vw00, vg)));
              v128.store(i01 + off, f32x4.add(v128.load(i01 + off), f32x4.mul(vw01, vg)));
              v128.store(i10 + off, f32x4.add(v128.load(i10 + off), f32x4.mul(vw10, vg)));
              v128.store(i11 + off, f32x4.add(v128.load(i11 + off), f32x4.mul(vw11, vg)));
            }
          }
          for (; ch < C; ch++) {
            const off = <usize>ch << 2;
            const gv = load<f32>(gp + off);
            store<f32>(i00 + off, load<f32>(i00 + off) + w00 * gv);
            store<f32>(i01 + off, load<f32>(i01 + off) + w01 * gv);
            store<f32>(i10 + off, load<f32>(i10 + off) + w10 * gv);
            store<f32>(i11 + off, load<f32>(i11 + off) + w11 * gv);
          }
        }
      }
    }
  }
}

export function f32_bilinear_bwd_params__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const tp = paramPtr(params, 4), xs = paramPtr(params, 5), gys = paramPtr(params, 6), gpOut = paramPtr(params, 7);
  const cx = <f32>(W - 1) * 0.5, cy = <f32>(H - 1) * 0.5;
  const imageBytes = <usize>H * W * C << 2;
  const tab = scratch;
  const vone = f32x4.splat(1);
  for (let n = begin; n < end; n++) {
    const t = tp + (<usize>n * 12);
    sincos(<f64>load<f32>(t), tab);
    const cs = load<f32>(tab), sn = load<f32>(tab, 4);
    const tx = load<f32>(t, 4), ty = load<f32>(t, 8);
    const img = xs + <usize>n * imageBytes, gy = gys + <usize>n * imageBytes;
    const vcs = f32x4.splat(cs), vsn = f32x4.splat(sn);
    let gTheta: f64 = 0, gTx: f64 = 0, gTy: f64 = 0;
    for (let i = 0; i < H; i++) {
      let vgTheta = f32x4.splat(0), vgTx = f32x4.splat(0), vgTy = f32x4.splat(0);
      for (let j = 0; j < W; j += 4) {
        fillTable(tab, i, j, H, W, C, cs, sn, tx, ty, cx, cy);
        const lanes = min(4, W - j);
        const g = gy + ((<usize>(i * W + j) * C) << 2);
        const vfx = v128.load(slot(tab, 12)), vfy = v128.load(slot(tab, 13));
        const vgx = f32x4.sub(vone, vfx), vgy = f32x4.sub(vone, vfy);
        // Per lane Σ_ch gy·∂y/∂sx and Σ_ch gy·∂y/∂sy, as vectors over the 4 pixels.
        let vgsx = f32x4.splat(0), vgsy = f32x4.splat(0);
        for (let ch = 0; ch < C; ch++) {
          const p00 = f32x4.mul(v128.load(slot(tab, 8)), gather4(img, tab, 0, ch));
          const p01 = f32x4.mul(v128.load(slot(tab, 9)), gather4(img, tab, 1, ch));
          const p10 = f32x4.mul(v128.load(slot(tab, 10)), gather4(img, tab, 2, ch));
          const p11 = f32x4.mul(v128.load(slot(tab, 11)), gather4(img, tab, 3, ch));
          // gy of the 4 pixels at channel ch (lanes past the row end read 0).
          let vg = f32x4.splat(load<f32>(g + (<usize>ch << 2)));
          vg = f32x4.replace_lane(vg, 1, lanes > 1 ? load<f32>(g + (<usize>(C + ch) << 2)) : 0);
          vg = f32x4.replace_lane(vg, 2, lanes > 2 ? load<f32>(g + (<usize>(2 * C + ch) << 2)) : 0);
          vg = f32x4.replace_lane(vg, 3, lanes > 3 ? load<f32>(g + (<usize>(3 * C + ch) << 2)) : 0);
          const dsx = f32x4.add(f32x4.mul(vgy, f32x4.sub(p01, p00)), f32x4.mul(vfy, f32x4.sub(p11, p10)));
          const dsy = f32x4.add(f32x4.mul(vgx, f32x4.sub(p10, p00)), f32x4.mul(vfx, f32x4.sub(p11, p01)));
          vgsx = f32x4.add(vgsx, f32x4.mul(vg, dsx));
          vgsy = f32x4.add(vgsy, f32x4.mul(vg, dsy));
        }
        const vu = v128.load(slot(tab, 14)), vv = v128.load(slot(tab, 15));
        const dthx = f32x4.sub(f32x4.neg(f32x4.mul(vsn, vu)), f32x4.mul(vcs, vv));
        const dthy = f32x4.sub(f32x4.mul(vcs, vu), f32x4.mul(vsn, vv));
        vgTheta = f32x4.add(vgTheta, f32x4.add(f32x4.mul(vgsx, dthx), f32x4.mul(vgsy, dthy)));
        vgTx = f32x4.sub(vgTx, f32x4.add(f32x4.mul(vgsx, vcs), f32x4.mul(vgsy, vsn)));
        vgTy = f32x4.add(vgTy, f32x4.sub(f32x4.mul(vgsx, vsn), f32x4.mul(vgsy, vcs)));
      }
      gTheta += <f64>f32x4.extract_lane(vgTheta, 0) + <f64>f32x4.extract_lane(vgTheta, 1) + <f64>f32x4.extract_lane(vgTheta, 2) + <f64>f32x4.extract_lane(vgTheta, 3);
      gTx += <f64>f32x4.extract_lane(vgTx, 0) + <f64>f32x4.extract_lane(vgTx, 1) + <f64>f32x4.extract_lane(vgTx, 2) + <f64>f32x4.extract_lane(vgTx, 3);
      gTy += <f64>f32x4.extract_lane(vgTy, 0) + <f64>f32x4.extract_lane(vgTy, 1) + <f64>f32x4.extract_lane(vgTy, 2) + <f64>f32x4.extract_lane(vgTy, 3);
    }
    const o = gpOut + (<usize>n * 12);
    store<f32>(o, <f32>gTheta);
    store<f32>(o, <f32>gTx, 4);
    store<f32>(o, <f32>gTy, 8);
  }
}
