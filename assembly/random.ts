// Seeded random starts for the norm attacks: one perturbation δ per example.
//
// Buffers (row-major f32): out (N, D); eps (N) per-example budgets.
// Parameter block (see src/kernels/norms.ts): 0 N, 1 D, 2 out, 3 eps (pointer to N f32),
//   4 seed low 32 bits, 5 seed high 32 bits, 6 index of row 0 in the whole batch (example offset).
// Kernels (__scalar + __simd):
//   f32_rand_linf  δ_i ~ U(−ε, ε) i.i.d.
//   f32_rand_l2    δ = ε·z/‖z‖₂ with z_i ~ N(0, 1): uniform direction on the ε-sphere.
//   f32_rand_l1    δ = ε·z/‖z‖₁ with z_i ~ Laplace(0, 1) (the reference SLIDE start, paper.md §1.5).
// Randomness: counter-based and stateless. Every draw is a pure function of
//   (seed, example = offset + n, coordinate i, stream s): h = mix(mix(seed') ^ (e·2³² + i)) + s·γ),
//   mix = SplitMix64's finaliser (Steele, Lea, Flood 2014), γ = 0x9E3779B97F4A7C15, and a uniform
//   u = (h >> 11 + ½)·2⁻⁵³ ∈ (0, 1). Results never depend on how [begin, end) is split, nor on
//   which chunk of a bigger batch is generated (pass its offset).
//   Gaussians: Marsaglia's polar method, streams 2k, 2k+1 for attempt k (no trig: AS's cos keeps
//   temporaries in module globals). Laplace: inverse CDF of u.
// Variants: the draws are the same scalar code in both; __simd vectorises the norm and the scaling.
// Threading contract: [begin, end) splits the examples.
import { paramI32, paramPtr } from "./simd";

const GAMMA: u64 = 0x9E3779B97F4A7C15;

// @ts-ignore: decorator
@inline function mix64(z: u64): u64 {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
  return z ^ (z >> 31);
}

/** Uniform in (0, 1) for (seed key, example, coordinate, stream). */
// @ts-ignore: decorator
@inline function uniform01(key: u64, e: u64, i: u64, s: u64): f64 {
  const h = mix64(mix64(key ^ ((e << 32) | i)) + s * GAMMA);
  return (<f64>(h >> 11) + 0.5) * 1.1102230246251565e-16; // 2^-53
}

/** Per-seed key from the two 32-bit halves of the seed. */
// @ts-ignore: decorator
@inline function seedKey(params: usize): u64 {
  const seed = (<u64><u32>paramI32(params, 5) << 32) | <u64><u32>paramI32(params, 4);
  return mix64(seed ^ 0x243F6A8885A308D3);
}

/** Standard normal for (key, e, i) by the polar method. */
function gaussian(key: u64, e: u64, i: u64): f64 {
  for (let k: u64 = 0; ; k++) {
    const u = 2 * uniform01(key, e, i, 2 * k) - 1, v = 2 * uniform01(key, e, i, 2 * k + 1) - 1;
    const s = u * u + v * v;
    if (s > 0 && s < 1) return u * Math.sqrt(-2 * Math.log(s) / s);
  }
  return 0;
}

/** Standard Laplace for (key, e, i): inverse CDF. */
// @ts-ignore: decorator
@inline function laplace(key: u64, e: u64, i: u64): f64 {
  const u = uniform01(key, e, i, 0);
  return u < 0.5 ? Math.log(2 * u) : -Math.log(2 * (1 - u));
}

const KIND_LINF: i32 = 0;
const KIND_L2: i32 = 1;
const KIND_L1: i32 = 2;

/** Fills row n with raw draws: uniform ±1 (L∞), Gaussian (L2) or Laplace (L1). */
function drawRow(kind: i32, key: u64, e: u64, o: usize, D: i32): void {
  for (let i = 0; i < D; i++) {
    let z: f64;
    if (kind == KIND_LINF) z = 2 * uniform01(key, e, <u64>i, 0) - 1;
    else if (kind == KIND_L2) z = gaussian(key, e, <u64>i);
    else z = laplace(key, e, <u64>i);
    store<f32>(o + (<usize>i << 2), <f32>z);
  }
}

function randScalar(kind: i32, params: usize, begin: i32, end: i32): void {
  const D = paramI32(params, 1), out = paramPtr(params, 2), epsPtr = paramPtr(params, 3);
  const offset = <u64><u32>paramI32(params, 6), key = seedKey(params);
  for (let n = begin; n < end; n++) {
    const o = out + (<usize>n * D << 2);
    const eps = <f64>load<f32>(epsPtr + (<usize>n << 2));
    drawRow(kind, key, offset + <u64>n, o, D);
    let norm: f64 = 1;
    if (kind != KIND_LINF) {
      let s: f64 = 0;
      for (let i = 0; i < D; i++) {
        const z = <f64>load<f32>(o + (<usize>i << 2));
        s += kind == KIND_L2 ? z * z : abs(z);
      }
      norm = kind == KIND_L2 ? Math.sqrt(s) : s;
    }
    const scale = <f32>(norm > 0 ? eps / norm : 0);
    for (let i = 0; i < D; i++) store<f32>(o + (<usize>i << 2), load<f32>(o + (<usize>i << 2)) * scale);
  }
}

function randSimd(kind: i32, params: usize, begin: i32, end: i32): void {
  const D = paramI32(params, 1), out = paramPtr(params, 2), epsPtr = paramPtr(params, 3);
  const offset = <u64><u32>paramI32(params, 6), key = seedKey(params);
  for (let n = begin; n < end; n++) {
    const o = out + (<usize>n * D << 2);
    const eps = <f64>load<f32>(epsPtr + (<usize>n << 2));
    drawRow(kind, key, offset + <u64>n, o, D);
    let norm: f64 = 1;
    if (kind != KIND_LINF) {
      let vs = f32x4.splat(0);
      let i = 0;
      for (; i + 4 <= D; i += 4) {
        const v = v128.load(o + (<usize>i << 2));
        vs = f32x4.add(vs, kind == KIND_L2 ? f32x4.mul(v, v) : f32x4.abs(v));
      }
      let s: f64 = <f64>f32x4.extract_lane(vs, 0) + <f64>f32x4.extract_lane(vs, 1) + <f64>f32x4.extract_lane(vs, 2) + <f64>f32x4.extract_lane(vs, 3);
      for (; i < D; i++) {
        const z = <f64>load<f32>(o + (<usize>i << 2));
        s += kind == KIND_L2 ? z * z : abs(z);
      }
      norm = kind == KIND_L2 ? Math.sqrt(s) : s;
    }
    const scale = <f32>(norm > 0 ? eps / norm : 0);
    const vscale = f32x4.splat(scale);
    let i = 0;
    for (; i + 4 <= D; i += 4) v128.store(o + (<usize>i << 2), f32x4.mul(v128.load(o + (<usize>i << 2)), vscale));
    for (; i < D; i++) store<f32>(o + (<usize>i << 2), load<f32>(o + (<usize>i << 2)) * scale);
  }
}

export function f32_rand_linf__scalar(params: usize, begin: i32, end: i32, scratch: usize): void { randScalar(KIND_LINF, params, begin, end); }
export function f32_rand_linf__simd(params: usize, begin: i32, end: i32, scratch: usize): void { randSimd(KIND_LINF, params, begin, end); }
export function f32_rand_l2__scalar(params: usize, begin: i32, end: i32, scratch: usize): void { randScalar(KIND_L2, params, begin, end); }
export function f32_rand_l2__simd(params: usize, begin: i32, end: i32, scratch: usize): void { randSimd(KIND_L2, params, begin, end); }
export function f32_rand_l1__scalar(params: usize, begin: i32, end: i32, scratch: usize): void { randScalar(KIND_L1, params, begin, end); }
export function f32_rand_l1__simd(params: usize, begin: i32, end: i32, scratch: usize): void { randSimd(KIND_L1, params, begin, end); }
