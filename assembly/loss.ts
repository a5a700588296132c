// Per-example classification losses on logits, forward and backward: softmax cross-entropy and
// the Carlini-Wagner margin loss.
//
// Buffers (row-major):
//   logits, dlogits: (B, K) f32      labels: (B) i32 in [0, K) (checked by the TS wrapper)
//   losses, dlosses: (B) f32         (dlosses = ∂L/∂losses, the cotangent of the per-example loss)
// Parameter blocks (4-byte fields, see src/kernels/loss.ts):
//   forward   0 B, 1 K, 2 logits, 3 labels, 4 losses
//   backward  0 B, 1 K, 2 logits, 3 labels, 4 dlosses, 5 dlogits    (in place allowed: dlogits == logits)
// Kernels:
//   f32_softmax_xent_fwd  loss_i = logsumexp(z_i) − z_i[y_i], computed stably as
//                         log Σ_j exp(z_ij − m_i) − (z_i[y_i] − m_i) with m_i = max_j z_ij.
//   f32_softmax_xent_bwd  dz_ij = (softmax(z_i)_j − [j = y_i]) · dloss_i.
//   f32_margin_loss_fwd   loss_i = max_{j≠y_i} z_ij − z_i[y_i]   (K ≥ 2; the attack maximises it).
//   f32_margin_loss_bwd   dz_i = dloss_i · (e_{j*} − e_{y_i}), j* = the FIRST j≠y_i attaining the max.
//                         NOTE: ties go to the first maximum, as numpy/torch argmax do.
// Variants: __scalar is the readable reference (Mathf.exp/Mathf.log). __simd runs f32x4 across
//   classes with a scalar tail; its exp is a Cephes-style polynomial (expNonPositive below, about
//   2 ulp, same polynomial in the tail), so softmax results differ from __scalar by rounding only.
//   The margin kernels agree with __scalar exactly except for the sign of a zero or NaN inputs.
// Threading contract: [begin, end) splits examples (rows); rows are independent, results do not
//   depend on the split. Scratch: none.
// Sources: Cephes expf (S. Moshier), as in the SSE/NEON ports (sse_mathfun); the CW loss:
//   Carlini & Wagner, "Towards evaluating the robustness of neural networks" (2017), and
//   Tramèr & Boneh (2019) compute_grad.
import { hmax, hsum, paramI32, paramPtr } from "./simd";

// ---------------------------------------------------------------------------------------------
// Scalar references
// ---------------------------------------------------------------------------------------------

export function f32_softmax_xent_fwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const K = paramI32(params, 1);
  const logits = paramPtr(params, 2), labels = paramPtr(params, 3), losses = paramPtr(params, 4);
  for (let i = begin; i < end; i++) {
    const z = logits + ((<usize>i * K) << 2);
    const y = load<i32>(labels + (<usize>i << 2));
    let m = load<f32>(z);
    for (let j = 1; j < K; j++) m = max<f32>(m, load<f32>(z + (<usize>j << 2)));
    let s: f32 = 0;
    for (let j = 0; j < K; j++) s += Mathf.exp(load<f32>(z + (<usize>j << 2)) - m);
    store<f32>(losses + (<usize>i << 2), Mathf.log(s) - (load<f32>(z + (<usize>y << 2)) - m));
  }
}

export function f32_softmax_xent_bwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const K = paramI32(params, 1);
  const logits = paramPtr(params, 2), labels = paramPtr(params, 3);
  const dlosses = paramPtr(params, 4), dlogits = paramPtr(params, 5);
  for (let i = begin; i < end; i++) {
    const z = logits + ((<usize>i * K) << 2), dz = dlogits + ((<usize>i * K) << 2);
    const y = load<i32>(labels + (<usize>i << 2));
    const dl = load<f32>(dlosses + (<usize>i << 2));
    let m = load<f32>(z);
    for (let j = 1; j < K; j++) m = max<f32>(m, load<f32>(z + (<usize>j << 2)));
    // dz holds exp(z - m) until it is scaled (this order keeps dlogits == logits valid).
    let s: f32 = 0;
    for (let j = 0; j < K; j++) {
      const e = Mathf.exp(load<f32>(z + (<usize>j << 2)) - m);
      store<f32>(dz + (<usize>j << 2), e);
      s += e;
    }
    const ey = load<f32>(dz + (<usize>y << 2));
    for (let j = 0; j < K; j++) store<f32>(dz + (<usize>j << 2), (load<f32>(dz + (<usize>j << 2)) / s) * dl);
    store<f32>(dz + (<usize>y << 2), (ey / s - 1) * dl);
  }
}

export function f32_margin_loss_fwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const K = paramI32(params, 1);
  const logits = paramPtr(params, 2), labels = paramPtr(params, 3), losses = paramPtr(params, 4);
  for (let i = begin; i < end; i++) {
    const z = logits + ((<usize>i * K) << 2);
    const y = load<i32>(labels + (<usize>i << 2));
    const j = firstMaxOther(z, K, y);
    store<f32>(losses + (<usize>i << 2), load<f32>(z + (<usize>j << 2)) - load<f32>(z + (<usize>y << 2)));
  }
}

export function f32_margin_loss_bwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const K = paramI32(params, 1);
  const logits = paramPtr(params, 2), labels = paramPtr(params, 3);
  const dlosses = paramPtr(params, 4), dlogits = paramPtr(params, 5);
  for (let i = begin; i < end; i++) {
    const z = logits + ((<usize>i * K) << 2), dz = dlogits + ((<usize>i * K) << 2);
    const y = load<i32>(labels + (<usize>i << 2));
    const dl = load<f32>(dlosses + (<usize>i << 2));
    const jStar = firstMaxOther(z, K, y);
    for (let j = 0; j < K; j++) store<f32>(dz + (<usize>j << 2), 0);
    store<f32>(dz + (<usize>jStar << 2), dl);
    store<f32>(dz + (<usize>y << 2), -dl);
  }
}

/** Index of the first maximum of z[j] over j ≠ y (strictly-greater scan); K ≥ 2. */
function firstMaxOther(z: usize, K: i32, y: i32): i32 {
  let best = y == 0 ? 1 : 0;
  let vbest = load<f32>(z + (<usize>best << 2));
  for (let j = best + 1; j < K; j++) {
    const v = load<f32>(z + (<usize>j << 2));
    if (j != y && v > vbest) {
      vbest = v;
      best = j;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// SIMD across classes
// ---------------------------------------------------------------------------------------------

// Cephes expf constants: exp(x) = 2^n · exp(r), n = round(x·log2 e), r = x − n·ln 2 (split in two).
const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_MIN: f32 = -87.3365447505531; // ln(2^-126): below it 2^n would be subnormal
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

/** exp(x) per lane for x ≤ 0 (inputs below EXP_MIN give ~2^-126 instead of a smaller value). */
// @ts-ignore: decorator
@inline function vexpNonPositive(vx: v128): v128 {
  vx = f32x4.max(vx, f32x4.splat(EXP_MIN));
  const vn = f32x4.nearest(f32x4.mul(vx, f32x4.splat(LOG2E)));
  const vr = f32x4.sub(f32x4.sub(vx, f32x4.mul(vn, f32x4.splat(LN2_HI))), f32x4.mul(vn, f32x4.splat(LN2_LO)));
  let vp = f32x4.add(f32x4.mul(f32x4.splat(P0), vr), f32x4.splat(P1));
  vp = f32x4.add(f32x4.mul(vp, vr), f32x4.splat(P2));
  vp = f32x4.add(f32x4.mul(vp, vr), f32x4.splat(P3));
  vp = f32x4.add(f32x4.mul(vp, vr), f32x4.splat(P4));
  vp = f32x4.add(f32x4.mul(vp, vr), f32x4.splat(P5));
  const ve = f32x4.add(f32x4.add(f32x4.mul(vp, f32x4.mul(vr, vr)), vr), f32x4.splat(1));
  const vpow2n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(vn), i32x4.splat(127)), 23);
  return f32x4.mul(ve, vpow2n);
}

/** Scalar twin of vexpNonPositive (the same operations on one lane), for the tails. */
// @ts-ignore: decorator
@inline function expNonPositive(x: f32): f32 {
  x = max<f32>(x, EXP_MIN);
  const n = nearest<f32>(x * LOG2E);
  const r = (x - n * LN2_HI) - n * LN2_LO;
  let p = P0 * r + P1;
  p = p * r + P2;
  p = p * r + P3;
  p = p * r + P4;
  p = p * r + P5;
  const e = (p * (r * r) + r) + 1;
  return e * reinterpret<f32>((<i32>n + 127) << 23);
}

/** max_j z[j] over [from, to), or -Infinity when the range is empty. */
// @ts-ignore: decorator
@inline function maxRange(z: usize, from: i32, to: i32): f32 {
  let m: f32 = -Infinity;
  let j = from;
  if (to - from >= 4) {
    let vmax = v128.load(z + (<usize>j << 2));
    for (j += 4; j + 4 <= to; j += 4) vmax = f32x4.max(vmax, v128.load(z + (<usize>j << 2)));
    m = hmax(vmax);
  }
  for (; j < to; j++) m = max<f32>(m, load<f32>(z + (<usize>j << 2)));
  return m;
}

/** Σ_j exp(z[j] − m) over [0, K), also stored into e[j] when `keep` (e may equal z). */
// @ts-ignore: decorator
@inline function sumExp(z: usize, K: i32, m: f32, e: usize, keep: bool): f32 {
  const vm = f32x4.splat(m);
  let vsum = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= K; j += 4) {
    const off = <usize>j << 2;
    const ve = vexpNonPositive(f32x4.sub(v128.load(z + off), vm));
    if (keep) v128.store(e + off, ve);
    vsum = f32x4.add(vsum, ve);
  }
  let s = hsum(vsum);
  for (; j < K; j++) {
    const off = <usize>j << 2;
    const ej = expNonPositive(load<f32>(z + off) - m);
    if (keep) store<f32>(e + off, ej);
    s += ej;
  }
  return s;
}

export function f32_softmax_xent_fwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const K = paramI32(params, 1);
  const logits = paramPtr(params, 2), labels = paramPtr(params, 3), losses = paramPtr(params, 4);
  for (let i = begin; i < end; i++) {
    const z = logits + ((<usize>i * K) << 2);
    const y = load<i32>(labels + (<usize>i << 2));
    const m = maxRange(z, 0, K);
    const s = sumExp(z, K, m, 0, false);
    store<f32>(losses + (<usize>i << 2), Mathf.log(s) - (load<f32>(z + (<usize>y << 2)) - m));
  }
}

export function f32_softmax_xent_bwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const K = paramI32(params, 1);
  const logits = paramPtr(params, 2), labels = paramPtr(params, 3);
  const dlosses = paramPtr(params, 4), dlogits = paramPtr(params, 5);
  for (let i = begin; i < end; i++) {
    const z = logits + ((<usize>i * K) << 2), dz = dlogits + ((<usize>i * K) << 2);
    const y = load<i32>(labels + (<usize>i << 2));
    const dl = load<f32>(dlosses + (<usize>i << 2));
    const m = maxRange(z, 0, K);
    const s = sumExp(z, K, m, dz, true);
    const ey = load<f32>(dz + (<usize>y << 2));
    const vs = f32x4.splat(s), vdl = f32x4.splat(dl);
    let j = 0;
    for (; j + 4 <= K; j += 4) {
      const off = <usize>j << 2;
      v128.store(dz + off, f32x4.mul(f32x4.div(v128.load(dz + off), vs), vdl));
    }
    for (; j < K; j++) {
      const off = <usize>j << 2;
      store<f32>(dz + off, (load<f32>(dz + off) / s) * dl);
    }
    store<f32>(dz + (<usize>y << 2), (ey / s - 1) * dl);
  }
}

export function f32_margin_loss_fwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const K = paramI32(params, 1);
  const logits = paramPtr(params, 2), labels = paramPtr(params, 3), losses = paramPtr(params, 4);
  for (let i = begin; i < end; i++) {
    const z = logits + ((<usize>i * K) << 2);
    const y = load<i32>(labels + (<usize>i << 2));
    const best = max<f32>(maxRange(z, 0, y), maxRange(z, y + 1, K));
    store<f32>(losses + (<usize>i << 2), best - load<f32>(z + (<usize>y << 2)));
  }
}

export function f32_margin_loss_bwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const K = paramI32(params, 1);
  const logits = paramPtr(params, 2), labels = paramPtr(params, 3);
  const dlosses = paramPtr(params, 4), dlogits = paramPtr(params, 5);
  const vzero = f32x4.splat(0);
  for (let i = begin; i < end; i++) {
    const z = logits + ((<usize>i * K) << 2), dz = dlogits + ((<usize>i * K) << 2);
    const y = load<i32>(labels + (<usize>i << 2));
    const dl = load<f32>(dlosses + (<usize>i << 2));
    const best = max<f32>(maxRange(z, 0, y), maxRange(z, y + 1, K));
    // The first j ≠ y holding the maximum (none only with NaN logits: then the first j ≠ y).
    let jStar = y == 0 ? 1 : 0;
    for (let j = 0; j < K; j++) {
      if (j != y && load<f32>(z + (<usize>j << 2)) == best) {
        jStar = j;
        break;
      }
    }
    let j = 0;
    for (; j + 4 <= K; j += 4) v128.store(dz + (<usize>j << 2), vzero);
    for (; j < K; j++) store<f32>(dz + (<usize>j << 2), 0);
    store<f32>(dz + (<usize>jStar << 2), dl);
    store<f32>(dz + (<usize>y << 2), -dl);
  }
}
