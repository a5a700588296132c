// Per-example projections of perturbations δ onto L∞ / L2 / L1 balls, optionally intersected with
// the pixel box 0 ≤ x0 + δ ≤ 1.
//
// Buffers (row-major f32): delta (N, D) input; out (N, D) output (out == delta is allowed:
//   in-place); x0 (N, D) clean inputs in [0, 1] or null (no box); eps (N) per-example budgets ≥ 0.
// Parameter block (i32/f32 fields, see src/kernels/proj.ts), the same for every kernel here:
//   0 N, 1 D, 2 delta, 3 out, 4 x0 (0 = no box), 5 eps (pointer to N f32).
// Kernels (each __scalar + __simd):
//   f32_proj_linf    out = clamp(δ, max(−ε, −x0), min(ε, 1 − x0)): ball and box in one pass.
//   f32_proj_l2      out = δ·min(1, ε/‖δ‖₂), then (x0 given) clamp to the box [−x0, 1 − x0].
//   f32_proj_l1      exact Euclidean projection onto {‖z‖₁ ≤ ε}; with x0 given it then clamps to
//                    the box: the reference code's "L1 projection, then box clip" (MultiRobustness
//                    SLIDE), which is NOT the projection onto the intersection.
//   f32_proj_l1_box  exact Euclidean projection onto {‖z‖₁ ≤ ε, 0 ≤ x0 + z ≤ 1} (x0 required).
// Algorithms (paper.md §5):
//   L1, __scalar: sort-based, Duchi et al. (ICML 2008): u = |δ| sorted decreasing, S_j its prefix
//     sums, ρ = max{j : u_j − (S_j − ε)/j > 0}, θ = (S_ρ − ε)/ρ, z = sign(δ)·max(|δ| − θ, 0).
//     Readable and obviously exact; heapsort on scratch (deterministic, no recursion).
//   L1, __simd: Michelot's variable-fixing iteration (Michelot 1986; the Jacobi form of the
//     algorithm Condat 2016 accelerates): θ = (Σ_{A}|δ| − ε)/|A| with A = {i : |δ_i| > θ_prev},
//     repeated until A stops shrinking. θ increases monotonically and the fixed point is Duchi's
//     θ exactly; each round is one branch-free f32x4 pass (masked sum + count), and a few rounds
//     suffice in practice (worst case D rounds). Chosen over Condat's Gauss–Seidel form because
//     that form is a sequential, branchy scan that does not vectorise.
//   L1 ∩ box: KKT solution z_i = sign(δ_i)·min(max(|δ_i| − λ, 0), b_i) with b_i = 1 − x0_i when
//     δ_i > 0 and x0_i when δ_i < 0 (Croce & Hein 2021, AutoAttack `L1_projection`); λ = 0 when
//     the box-clipped δ already has ‖·‖₁ ≤ ε, else λ > 0 solves f(λ) = Σ_i |z_i(λ)| = ε, with f
//     piecewise linear, non-increasing, breakpoints {|δ_i| − b_i, |δ_i|}.
//     __scalar: both breakpoint sets sorted (heapsort), merged sweep in increasing λ (exact).
//     __simd: bracket [lo, hi] ∋ λ, alternate secant / bisection steps, each one f32x4 pass that
//     also counts breakpoints strictly inside the bracket; once none is, f is linear there and
//     λ = (Σ_saturated b + Σ_linear |δ| − ε)/#linear exactly (that sum re-accumulated in f64x2).
// NOTE: ε = 0 gives z = 0 (L1, L2), the clamp to the box for L∞. Ties need no rule: the
//   projection is unique. Box clip uses b_i = max(b_i, 0) (x0 outside [0, 1] is rejected in TS).
// NOTE: the reference code's off-by-one threshold (first failing index as ρ, paper.md §5) is not
//   reproduced: θ is always the exact one.
// Threading contract: [begin, end) splits the examples; results do not depend on the split.
// Scratch: f32_proj_l1_scratch / f32_proj_l1_box_scratch bytes (D or 2·D floats; only the
//   scalar sort-based twins use it). Sums are accumulated in f64 (scalar) or f32x4 lanes then
//   f64 (simd): the twins agree to f32 rounding, not bitwise.
import { paramI32, paramPtr } from "./simd";

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/** Sorts n floats at p in increasing order (heapsort: in place, deterministic). */
export function heapsortF32(p: usize, n: i32): void {
  for (let start = (n >> 1) - 1; start >= 0; start--) siftDown(p, start, n);
  for (let last = n - 1; last > 0; last--) {
    const top = load<f32>(p);
    store<f32>(p, load<f32>(p + (<usize>last << 2)));
    store<f32>(p + (<usize>last << 2), top);
    siftDown(p, 0, last);
  }
}

/** Restores the max-heap property below `root` in the heap of n floats at p. */
export function siftDown(p: usize, root: i32, n: i32): void {
  const value = load<f32>(p + (<usize>root << 2));
  let i = root;
  while (true) {
    let child = 2 * i + 1;
    if (child >= n) break;
    let cv = load<f32>(p + (<usize>child << 2));
    if (child + 1 < n) {
      const rv = load<f32>(p + (<usize>(child + 1) << 2));
      if (rv > cv) { child++; cv = rv; }
    }
    if (!(cv > value)) break;
    store<f32>(p + (<usize>i << 2), cv);
    i = child;
  }
  store<f32>(p + (<usize>i << 2), value);
}

/** sign(v)·m with sign(0) = 0 (m ≥ 0). */
// @ts-ignore: decorator
@inline function signTimes(v: f32, m: f32): f32 {
  return v > 0 ? m : v < 0 ? -m : 0;
}

/** Box bound of coordinate i for a move in the direction of v: 1 − x0 (v > 0) or x0 (v < 0), ≥ 0. */
// @ts-ignore: decorator
@inline function boxBound(v: f32, x0: f32): f32 {
  return max<f32>(v > 0 ? 1 - x0 : x0, 0);
}

/** Clamps row [0, D) of out to [−x0, 1 − x0] (no-op when x0 is null). */
function boxClipRow(out: usize, x0: usize, D: i32): void {
  if (!x0) return;
  for (let i = 0; i < D; i++) {
    const o = out + (<usize>i << 2), x = load<f32>(x0 + (<usize>i << 2));
    store<f32>(o, min<f32>(max<f32>(load<f32>(o), -x), 1 - x));
  }
}

/** SIMD version of boxClipRow. */
function boxClipRowSimd(out: usize, x0: usize, D: i32): void {
  if (!x0) return;
  const vone = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= D; i += 4) {
    const off = <usize>i << 2;
    const vx = v128.load(x0 + off);
    v128.store(out + off, f32x4.min(f32x4.max(v128.load(out + off), f32x4.neg(vx)), f32x4.sub(vone, vx)));
  }
  boxClipRow(out + (<usize>i << 2), x0 + (<usize>i << 2), D - i);
}

/** Copies a row unless in place. */
// @ts-ignore: decorator
@inline function copyRow(out: usize, src: usize, D: i32): void {
  if (out != src) memory.copy(out, src, <usize>D << 2);
}

// ---------------------------------------------------------------------------------------------
// L∞
// ---------------------------------------------------------------------------------------------

export function f32_proj_linf__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1);
  const delta = paramPtr(params, 2), out = paramPtr(params, 3), x0 = paramPtr(params, 4), epsPtr = paramPtr(params, 5);
  for (let n = begin; n < end; n++) {
    const row = <usize>n * D << 2;
    const eps = load<f32>(epsPtr + (<usize>n << 2));
    for (let i = 0; i < D; i++) {
      const off = row + (<usize>i << 2);
      let lo = -eps, hi = eps;
      if (x0) {
        const x = load<f32>(x0 + off);
        lo = max<f32>(lo, -x);
        hi = min<f32>(hi, 1 - x);
      }
      store<f32>(out + off, min<f32>(max<f32>(load<f32>(delta + off), lo), hi));
    }
  }
}

export function f32_proj_linf__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1);
  const delta = paramPtr(params, 2), out = paramPtr(params, 3), x0 = paramPtr(params, 4), epsPtr = paramPtr(params, 5);
  const vone = f32x4.splat(1);
  for (let n = begin; n < end; n++) {
    const row = <usize>n * D << 2;
    const eps = load<f32>(epsPtr + (<usize>n << 2));
    const vhi = f32x4.splat(eps), vlo = f32x4.splat(-eps);
    let i = 0;
    if (x0) {
      for (; i + 4 <= D; i += 4) {
        const off = row + (<usize>i << 2);
        const vx = v128.load(x0 + off);
        const vl = f32x4.max(vlo, f32x4.neg(vx)), vh = f32x4.min(vhi, f32x4.sub(vone, vx));
        v128.store(out + off, f32x4.min(f32x4.max(v128.load(delta + off), vl), vh));
      }
    } else {
      for (; i + 4 <= D; i += 4) {
        const off = row + (<usize>i << 2);
        v128.store(out + off, f32x4.min(f32x4.max(v128.load(delta + off), vlo), vhi));
      }
    }
    for (; i < D; i++) {
      const off = row + (<usize>i << 2);
      let lo = -eps, hi = eps;
      if (x0) {
        const x = load<f32>(x0 + off);
        lo = max<f32>(lo, -x);
        hi = min<f32>(hi, 1 - x);
      }
      store<f32>(out + off, min<f32>(max<f32>(load<f32>(delta + off), lo), hi));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// L2
// ---------------------------------------------------------------------------------------------

export function f32_proj_l2__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1);
  const delta = paramPtr(params, 2), out = paramPtr(params, 3), x0 = paramPtr(params, 4), epsPtr = paramPtr(params, 5);
  for (let n = begin; n < end; n++) {
    const row = <usize>n * D << 2;
    const eps = <f64>load<f32>(epsPtr + (<usize>n << 2));
    let ss: f64 = 0;
    for (let i = 0; i < D; i++) {
      const v = <f64>load<f32>(delta + row + (<usize>i << 2));
      ss += v * v;
    }
    const norm = Math.sqrt(ss);
    const scale = <f32>(norm > eps ? eps / norm : 1);
    for (let i = 0; i < D; i++) {
      const off = row + (<usize>i << 2);
      store<f32>(out + off, load<f32>(delta + off) * scale);
    }
    boxClipRow(out + row, x0 ? x0 + row : 0, D);
  }
}

export function f32_proj_l2__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1);
  const delta = paramPtr(params, 2), out = paramPtr(params, 3), x0 = paramPtr(params, 4), epsPtr = paramPtr(params, 5);
  for (let n = begin; n < end; n++) {
    const row = <usize>n * D << 2;
    const eps = <f64>load<f32>(epsPtr + (<usize>n << 2));
    let vss = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= D; i += 4) {
      const v = v128.load(delta + row + (<usize>i << 2));
      vss = f32x4.add(vss, f32x4.mul(v, v));
    }
    let ss: f64 = <f64>f32x4.extract_lane(vss, 0) + <f64>f32x4.extract_lane(vss, 1) + <f64>f32x4.extract_lane(vss, 2) + <f64>f32x4.extract_lane(vss, 3);
    for (; i < D; i++) {
      const v = <f64>load<f32>(delta + row + (<usize>i << 2));
      ss += v * v;
    }
    const norm = Math.sqrt(ss);
    const scale = <f32>(norm > eps ? eps / norm : 1);
    const vscale = f32x4.splat(scale);
    i = 0;
    for (; i + 4 <= D; i += 4) {
      const off = row + (<usize>i << 2);
      v128.store(out + off, f32x4.mul(v128.load(delta + off), vscale));
    }
    for (; i < D; i++) {
      const off = row + (<usize>i << 2);
      store<f32>(out + off, load<f32>(delta + off) * scale);
    }
    boxClipRowSimd(out + row, x0 ? x0 + row : 0, D);
  }
}

// ---------------------------------------------------------------------------------------------
// L1 ball (then, optionally, box clip: the reference's SLIDE projection)
// ---------------------------------------------------------------------------------------------

/** Scratch bytes of f32_proj_l1: D floats (|δ| sorted by the scalar twin), at least 16 (simd count). */
export function f32_proj_l1_scratch(params: usize): i32 {
  return max(paramI32(params, 1) << 2, 16);
}

/** Duchi et al. threshold θ for one row (‖δ‖₁ > ε > 0 assumed); `u` is D floats of scratch. */
function l1ThresholdSorted(delta: usize, D: i32, eps: f64, u: usize): f64 {
  for (let i = 0; i < D; i++) store<f32>(u + (<usize>i << 2), abs<f32>(load<f32>(delta + (<usize>i << 2))));
  heapsortF32(u, D);
  // Walk u in decreasing order; the last j passing the test gives θ.
  let sum: f64 = 0, theta: f64 = 0;
  for (let j = 1; j <= D; j++) {
    const uj = <f64>load<f32>(u + (<usize>(D - j) << 2));
    sum += uj;
    const t = (sum - eps) / j;
    if (uj - t > 0) theta = t;
    else break;
  }
  return theta;
}

export function f32_proj_l1__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1);
  const delta = paramPtr(params, 2), out = paramPtr(params, 3), x0 = paramPtr(params, 4), epsPtr = paramPtr(params, 5);
  for (let n = begin; n < end; n++) {
    const row = <usize>n * D << 2;
    const d = delta + row, o = out + row;
    const eps = <f64>load<f32>(epsPtr + (<usize>n << 2));
    let l1: f64 = 0;
    for (let i = 0; i < D; i++) l1 += <f64>abs<f32>(load<f32>(d + (<usize>i << 2)));
    if (l1 <= eps) {
      copyRow(o, d, D);
    } else if (eps <= 0) {
      memory.fill(o, 0, <usize>D << 2);
    } else {
      const theta = <f32>l1ThresholdSorted(d, D, eps, scratch);
      for (let i = 0; i < D; i++) {
        const v = load<f32>(d + (<usize>i << 2));
        store<f32>(o + (<usize>i << 2), signTimes(v, max<f32>(abs<f32>(v) - theta, 0)));
      }
    }
    boxClipRow(o, x0 ? x0 + row : 0, D);
  }
}

/** Σ|v| and #{|v| > θ}-masked sum over a row: returns the masked sum, count in lane via `countOut`. */
// @ts-ignore: decorator
@inline function maskedAbsSum(d: usize, D: i32, theta: f32, countOut: usize): f64 {
  const vtheta = f32x4.splat(theta);
  let vsum = f32x4.splat(0), vcount = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= D; i += 4) {
    const va = f32x4.abs(v128.load(d + (<usize>i << 2)));
    const vm = f32x4.gt(va, vtheta);
    vsum = f32x4.add(vsum, v128.and(va, vm));
    vcount = i32x4.sub(vcount, vm);
  }
  let sum: f64 = <f64>f32x4.extract_lane(vsum, 0) + <f64>f32x4.extract_lane(vsum, 1) + <f64>f32x4.extract_lane(vsum, 2) + <f64>f32x4.extract_lane(vsum, 3);
  let count = i32x4.extract_lane(vcount, 0) + i32x4.extract_lane(vcount, 1) + i32x4.extract_lane(vcount, 2) + i32x4.extract_lane(vcount, 3);
  for (; i < D; i++) {
    const a = abs<f32>(load<f32>(d + (<usize>i << 2)));
    if (a > theta) { sum += a; count++; }
  }
  store<i32>(countOut, count);
  return sum;
}

/** Σ_{|v| > θ} |v| over a row, accumulated in f64x2. */
function maskedAbsSumF64(d: usize, D: i32, theta: f32): f64 {
  const vtheta = f32x4.splat(theta);
  let vlo = f64x2.splat(0), vhi = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= D; i += 4) {
    const va = f32x4.abs(v128.load(d + (<usize>i << 2)));
    const vm = v128.and(va, f32x4.gt(va, vtheta));
    vlo = f64x2.add(vlo, f64x2.promote_low_f32x4(vm));
    vhi = f64x2.add(vhi, f64x2.promote_low_f32x4(v128.shuffle<i32>(vm, vm, 2, 3, 0, 1)));
  }
  let sum = (f64x2.extract_lane(vlo, 0) + f64x2.extract_lane(vlo, 1)) + (f64x2.extract_lane(vhi, 0) + f64x2.extract_lane(vhi, 1));
  for (; i < D; i++) {
    const a = abs<f32>(load<f32>(d + (<usize>i << 2)));
    if (a > theta) sum += a;
  }
  return sum;
}

export function f32_proj_l1__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1);
  const delta = paramPtr(params, 2), out = paramPtr(params, 3), x0 = paramPtr(params, 4), epsPtr = paramPtr(params, 5);
  // One i32 of scratch receives the masked count.
  const countPtr = scratch;
  for (let n = begin; n < end; n++) {
    const row = <usize>n * D << 2;
    const d = delta + row, o = out + row;
    const eps = <f64>load<f32>(epsPtr + (<usize>n << 2));
    // θ = −1 masks nothing: the first pass is the plain L1 norm.
    let sum = maskedAbsSum(d, D, -1, countPtr);
    let count = load<i32>(countPtr);
    if (sum <= eps) {
      copyRow(o, d, D);
    } else if (eps <= 0) {
      memory.fill(o, 0, <usize>D << 2);
    } else {
      let theta = <f32>((sum - eps) / count);
      let thetaPrev: f32 = -1;
      while (true) {
        sum = maskedAbsSum(d, D, theta, countPtr);
        const c = load<i32>(countPtr);
        if (c >= count || c == 0) break; // A stopped shrinking (≥ guards against float wobble)
        count = c;
        thetaPrev = theta;
        theta = <f32>((sum - eps) / count);
      }
      // The final set A = {|δ| > θ_prev}: its sum again with f64 accumulation (f32 lanes drift by
      // ~√D ulps of the sum, which would push ‖z‖₁ past ε by that much).
      theta = <f32>((maskedAbsSumF64(d, D, thetaPrev) - eps) / count);
      const vtheta = f32x4.splat(theta), vzero = f32x4.splat(0);
      const vsignbit = i32x4.splat(0x80000000);
      let i = 0;
      for (; i + 4 <= D; i += 4) {
        const off = <usize>i << 2;
        const v = v128.load(d + off);
        const vm = f32x4.max(f32x4.sub(f32x4.abs(v), vtheta), vzero);
        // Copy the sign of δ onto the magnitude (magnitude 0 stays +0: sign(0)·0).
        v128.store(o + off, v128.or(vm, v128.and(v, vsignbit)));
      }
      for (; i < D; i++) {
        const v = load<f32>(d + (<usize>i << 2));
        store<f32>(o + (<usize>i << 2), signTimes(v, max<f32>(abs<f32>(v) - theta, 0)));
      }
    }
    boxClipRowSimd(o, x0 ? x0 + row : 0, D);
  }
}

// ---------------------------------------------------------------------------------------------
// Exact L1 ∩ box
// ---------------------------------------------------------------------------------------------

/** Scratch bytes of f32_proj_l1_box: 2·D floats (breakpoints of the scalar twin), at least 32 (simd pass info). */
export function f32_proj_l1_box_scratch(params: usize): i32 {
  return max(paramI32(params, 1) << 3, 32);
}

/** Writes z_i = sign(δ_i)·min(max(|δ_i| − λ, 0), b_i) for one row. */
function writeL1Box(d: usize, x: usize, o: usize, D: i32, lambda: f32): void {
  for (let i = 0; i < D; i++) {
    const off = <usize>i << 2;
    const v = load<f32>(d + off);
    const b = boxBound(v, load<f32>(x + off));
    store<f32>(o + off, signTimes(v, min<f32>(max<f32>(abs<f32>(v) - lambda, 0), b)));
  }
}

export function f32_proj_l1_box__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1);
  const delta = paramPtr(params, 2), out = paramPtr(params, 3), x0 = paramPtr(params, 4), epsPtr = paramPtr(params, 5);
  const enter = scratch, leave = scratch + (<usize>D << 2);
  for (let n = begin; n < end; n++) {
    const row = <usize>n * D << 2;
    const d = delta + row, x = x0 + row, o = out + row;
    const eps = <f64>load<f32>(epsPtr + (<usize>n << 2));
    // f(0) = ‖box-clipped δ‖₁; m = number of coordinates on their linear piece just after λ = 0.
    let f: f64 = 0;
    let m = 0, k = 0;
    for (let i = 0; i < D; i++) {
      const off = <usize>i << 2;
      const v = load<f32>(d + off);
      const a = abs<f32>(v);
      if (a == 0) continue;
      const b = boxBound(v, load<f32>(x + off));
      f += <f64>min<f32>(a, b);
      // Coordinate i is linear on [a − b, a]: it enters at a − b and leaves at a.
      store<f32>(enter + (<usize>k << 2), a - b);
      store<f32>(leave + (<usize>k << 2), a);
      k++;
      if (a - b <= 0) m++;
    }
    let lambda: f64 = 0;
    if (eps <= 0) lambda = Infinity;
    else if (f > eps) {
      heapsortF32(enter, k);
      heapsortF32(leave, k);
      // Merged sweep over breakpoints > 0 in increasing order; f decreases with slope −m between them.
      let ie = 0, il = 0, at: f64 = 0;
      while (ie < k && load<f32>(enter + (<usize>ie << 2)) <= 0) ie++;
      while (true) {
        const te = ie < k ? <f64>load<f32>(enter + (<usize>ie << 2)) : Infinity;
        const tl = il < k ? <f64>load<f32>(leave + (<usize>il << 2)) : Infinity;
        const t = min(te, tl);
        const ft = f - <f64>m * (t - at);
        if (ft <= eps || t == Infinity) {
          lambda = m > 0 ? at + (f - eps) / <f64>m : at;
          break;
        }
        at = t; f = ft;
        if (te <= tl) { m++; ie++; } else { m--; il++; }
      }
    }
    writeL1Box(d, x, o, D, <f32>lambda);
  }
}

export function f32_proj_l1_box__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const D = paramI32(params, 1);
  const delta = paramPtr(params, 2), out = paramPtr(params, 3), x0 = paramPtr(params, 4), epsPtr = paramPtr(params, 5);
  for (let n = begin; n < end; n++) {
    const row = <usize>n * D << 2;
    const d = delta + row, x = x0 + row, o = out + row;
    const eps = <f64>load<f32>(epsPtr + (<usize>n << 2));
    // One pass at λ = 0 gives f(0) and the bracket's upper end max|δ| (where f = 0).
    let lo: f32 = 0, hi: f32 = 0;
    let flo = l1BoxPass(d, x, D, 0, 0, 0, scratch);
    hi = load<f32>(scratch + 20);
    let lambda: f32 = 0;
    if (eps <= 0) lambda = Infinity;
    else if (flo > eps) {
      let fhi: f64 = 0;
      for (let iter = 0; ; iter++) {
        // Secant on even rounds, bisection on odd ones: the bracket at least halves every two rounds.
        let mid: f32 = (iter & 1) ? lo + (hi - lo) * 0.5 : <f32>(<f64>lo + (flo - eps) / (flo - fhi) * <f64>(hi - lo));
        if (!(mid > lo && mid < hi)) mid = lo + (hi - lo) * 0.5;
        const fmid = l1BoxPass(d, x, D, mid, lo, hi, scratch);
        const inside = load<i32>(scratch);
        if (inside == 0 || !(mid > lo && mid < hi) || iter >= 200) {
          // No breakpoint strictly inside (lo, hi): f is linear there.
          const lin = load<i32>(scratch + 4);
          lambda = lin > 0 ? <f32>((l1BoxLinearSum(d, x, D, lo, hi) - eps) / lin) : lo;
          lambda = min<f32>(max<f32>(lambda, lo), hi);
          break;
        }
        if (fmid > eps) { lo = mid; flo = fmid; }
        else if (fmid < eps) { hi = mid; fhi = fmid; }
        else { lambda = mid; break; }
      }
    }
    writeL1BoxSimd(d, x, o, D, lambda);
  }
}

/**
 * One f32x4 pass over a row for the L1∩box solver. Returns f(mid) = Σ min(max(a − mid, 0), b).
 * For the bracket (lo, hi) it writes to `info`: +0 i32 breakpoints strictly inside, +4 i32 number
 * of linear coordinates (a − b ≤ lo, a ≥ hi... i.e. neither saturated nor zero on the bracket),
 * +8 f64 Σ b over saturated coordinates (a − b ≥ hi), +16 f32 Σ a over linear ones, +20 f32 max a.
 */
function l1BoxPass(d: usize, x: usize, D: i32, mid: f32, lo: f32, hi: f32, info: usize): f64 {
  const vone = f32x4.splat(1), vzero = f32x4.splat(0);
  const vmid = f32x4.splat(mid), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  let vf = f32x4.splat(0), vsat = f32x4.splat(0), vsumLin = f32x4.splat(0), vmax = f32x4.splat(0);
  let vinside = i32x4.splat(0), vlin = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= D; i += 4) {
    const off = <usize>i << 2;
    const v = v128.load(d + off), vx = v128.load(x + off);
    const va = f32x4.abs(v);
    const vb = f32x4.max(v128.bitselect(f32x4.sub(vone, vx), vx, f32x4.gt(v, vzero)), vzero);
    const ve = f32x4.sub(va, vb);
    vf = f32x4.add(vf, f32x4.min(f32x4.max(f32x4.sub(va, vmid), vzero), vb));
    const inA = v128.and(f32x4.gt(va, vlo), f32x4.lt(va, vhi));
    const inE = v128.and(f32x4.gt(ve, vlo), f32x4.lt(ve, vhi));
    vinside = i32x4.sub(i32x4.sub(vinside, inA), inE);
    const sat = f32x4.ge(ve, vhi);
    const lin = v128.andnot(f32x4.gt(va, vlo), sat);
    vsat = f32x4.add(vsat, v128.and(vb, sat));
    vsumLin = f32x4.add(vsumLin, v128.and(va, lin));
    vlin = i32x4.sub(vlin, lin);
    vmax = f32x4.max(vmax, va);
  }
  let f: f64 = <f64>f32x4.extract_lane(vf, 0) + <f64>f32x4.extract_lane(vf, 1) + <f64>f32x4.extract_lane(vf, 2) + <f64>f32x4.extract_lane(vf, 3);
  let satSum: f64 = <f64>f32x4.extract_lane(vsat, 0) + <f64>f32x4.extract_lane(vsat, 1) + <f64>f32x4.extract_lane(vsat, 2) + <f64>f32x4.extract_lane(vsat, 3);
  let sumLin: f32 = f32x4.extract_lane(vsumLin, 0) + f32x4.extract_lane(vsumLin, 1) + f32x4.extract_lane(vsumLin, 2) + f32x4.extract_lane(vsumLin, 3);
  let inside = i32x4.extract_lane(vinside, 0) + i32x4.extract_lane(vinside, 1) + i32x4.extract_lane(vinside, 2) + i32x4.extract_lane(vinside, 3);
  let linCount = i32x4.extract_lane(vlin, 0) + i32x4.extract_lane(vlin, 1) + i32x4.extract_lane(vlin, 2) + i32x4.extract_lane(vlin, 3);
  let amax = max(max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)), max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
  for (; i < D; i++) {
    const off = <usize>i << 2;
    const v = load<f32>(d + off);
    const a = abs<f32>(v), b = boxBound(v, load<f32>(x + off)), e = a - b;
    f += <f64>min<f32>(max<f32>(a - mid, 0), b);
    if (a > lo && a < hi) inside++;
    if (e > lo && e < hi) inside++;
    if (e >= hi) satSum += <f64>b;
    else if (a > lo) { sumLin += a; linCount++; }
    amax = max(amax, a);
  }
  store<i32>(info, inside);
  store<i32>(info + 4, linCount);
  store<f64>(info + 8, satSum);
  store<f32>(info + 16, sumLin);
  store<f32>(info + 20, amax);
  return f;
}

/**
 * Σ_saturated b + Σ_linear |δ| on a breakpoint-free bracket (lo, hi), accumulated in f64x2 (the
 * solver's f32 lanes would leave ‖z‖₁ off ε by ~√D ulps of the sum).
 */
function l1BoxLinearSum(d: usize, x: usize, D: i32, lo: f32, hi: f32): f64 {
  const vone = f32x4.splat(1), vzero = f32x4.splat(0), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  let acc0 = f64x2.splat(0), acc1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= D; i += 4) {
    const off = <usize>i << 2;
    const v = v128.load(d + off), vx = v128.load(x + off);
    const va = f32x4.abs(v);
    const vb = f32x4.max(v128.bitselect(f32x4.sub(vone, vx), vx, f32x4.gt(v, vzero)), vzero);
    const sat = f32x4.ge(f32x4.sub(va, vb), vhi);
    const lin = v128.andnot(f32x4.gt(va, vlo), sat);
    const term = v128.or(v128.and(vb, sat), v128.and(va, lin));
    acc0 = f64x2.add(acc0, f64x2.promote_low_f32x4(term));
    acc1 = f64x2.add(acc1, f64x2.promote_low_f32x4(v128.shuffle<i32>(term, term, 2, 3, 0, 1)));
  }
  let sum = (f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1)) + (f64x2.extract_lane(acc1, 0) + f64x2.extract_lane(acc1, 1));
  for (; i < D; i++) {
    const off = <usize>i << 2;
    const v = load<f32>(d + off);
    const a = abs<f32>(v), b = boxBound(v, load<f32>(x + off));
    if (a - b >= hi) sum += <f64>b;
    else if (a > lo) sum += <f64>a;
  }
  return sum;
}

function writeL1BoxSimd(d: usize, x: usize, o: usize, D: i32, lambda: f32): void {
  const vone = f32x4.splat(1), vzero = f32x4.splat(0), vlambda = f32x4.splat(lambda);
  const vsignbit = i32x4.splat(0x80000000);
  let i = 0;
  for (; i + 4 <= D; i += 4) {
    const off = <usize>i << 2;
    const v = v128.load(d + off), vx = v128.load(x + off);
    const vb = f32x4.max(v128.bitselect(f32x4.sub(vone, vx), vx, f32x4.gt(v, vzero)), vzero);
    const vm = f32x4.min(f32x4.max(f32x4.sub(f32x4.abs(v), vlambda), vzero), vb);
    v128.store(o + off, v128.or(vm, v128.and(v, vsignbit)));
  }
  writeL1Box(d + (<usize>i << 2), x + (<usize>i << 2), o + (<usize>i << 2), D - i, lambda);
}
