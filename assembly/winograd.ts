// f32 Winograd convolution F(2×2, 5×5) for 5×5 stride-1 convolutions (the paper's MNIST conv2):
// 36 products per 2×2 output tile and channel pair instead of 100. Forward (which is also the
// backward-to-input pass, run with the flipped filter) and backward to the filter.
//
// Transforms (Toom-Cook, interpolation points 0, 1, −1, 2, −2, ∞; Lavin & Gray 2016). For a 6×6
// input tile d and a 5×5 filter g, the 2×2 output tile is  Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A  with
//   Bᵀ = [ 4  0 −5  0  1  0 ]   G = [  1/4    0     0     0     0  ]   Aᵀ = [ 1  1  1  1  1  0 ]
//        [ 0 −4 −4  1  1  0 ]       [ −1/6 −1/6  −1/6  −1/6  −1/6 ]        [ 0  1 −1  2 −2  1 ]
//        [ 0  4 −4 −1  1  0 ]       [ −1/6  1/6  −1/6   1/6  −1/6 ]
//        [ 0 −2 −1  2  1  0 ]       [ 1/24 1/12   1/6   1/3   2/3 ]
//        [ 0  2 −1 −2  1  0 ]       [ 1/24 −1/12  1/6  −1/3   2/3 ]
//        [ 0  4  0 −5  0  1 ]       [   0    0     0     0     1  ]
// Winograd-domain position ξ = 6·a + b (a: row, b: column of the 6×6 transformed tile).
//
// The convolution (a cross-correlation, as conv2d.ts): input x (N, H, W, K) NHWC, output
// y (N, OH, OW, C) NHWC, y[n,oh,ow,c] = act(bias[c] + Σ_{kh,kw,k} x[n, oh+kh−padTop, ow+kw−padLeft, k]·g[kh,kw,k,c]),
// x = 0 outside the image. Output tiles: TH = ⌈OH/2⌉ × TW = ⌈OW/2⌉ per image, flat index
// t = (n·TH + th)·TW + tw; a partial last tile row/column writes only its valid outputs.
// KP = K rounded up to 4, CP = C rounded up to 8 (GEMM_NR): padded channels hold zeros.
//
// Kernels and parameter blocks (i32 fields):
//   f32_winograd_filter      U = G g Gᵀ for every (k, c), packed for the GEMM: U[ξ][c/8][k][c%8].
//     0 w (KH=5, KW=5, Cin, Cout) HWIO   1 U (36·KP·CP floats, written)   2 Cin   3 Cout
//     4 flags (bit 0: flip: g[kh,kw,k,c] = w[4−kh, 4−kw, c, k], i.e. K = Cout, C = Cin: the
//       backward-to-input pass dx = conv(dy, flipped w) with padding 4 − pad)
//     [begin, end) over k in [0, KP); independent.
//   f32_winograd_fwd         y = act(bias + conv(x, g)) from U.
//     0 x  1 U  2 bias (C floats, 0 = none)  3 y  4 N  5 H  6 W  7 K  8 OH  9 OW  10 C
//     11 padTop  12 padLeft  13 flags (bit 1: ReLU)
//     [begin, end) over output tiles; independent (each tile's outputs depend on that tile only,
//     so results do not depend on the split).
//   f32_winograd_bwd_filter  dU[ξ][k][c] = Σ_tiles (Bᵀ d B)[ξ][k] · (A dy Aᵀ)[ξ][c]   (layout [36][KP][CP])
//     0 x  1 dy  2 N  3 H  4 W  5 K  6 OH  7 OW  8 C  9 padTop  10 padLeft
//     [begin, end) over output tiles; a REDUCTION: the kernel overwrites `partial` (36·KP·CP
//     floats) with the sum over its tiles; the caller sums partials in a fixed order.
//   f32_winograd_filter_bwd  dw[kh,kw,k,c] = (Gᵀ dU G)[kh,kw] for every (k, c): the adjoint of _filter.
//     0 dU  1 dw (5, 5, K, C) HWIO, written  2 K  3 C
//     [begin, end) over k in [0, K); independent.
// Variants: __scalar loops one tile (or one channel pair) at a time, the reference; __simd runs
//   the transforms on f32x4 over 4 channels (filter transforms: 4 output channels) and the
//   Winograd-domain products as 36 GEMMs per chunk of tiles on gemm.ts's 4×8 micro-kernel, with
//   bias and ReLU fused into the output transform. Both sum over k (and over tiles) in
//   increasing order, so they agree to f32 rounding.
// Scratch: f32_winograd_fwd_scratch / f32_winograd_bwd_filter_scratch bytes per thread.
// Accuracy: Winograd trades multiplies for transform additions; with these points the forward
//   error is ~1e-5 of the output's scale in f32 (the tests bound it against a float64 direct conv).
import { micro4x8, microRowMajor } from "./gemm";
import { loadLanes, paramI32, paramPtr, roundUp, storeLanes } from "./simd";

const FLAG_FLIP: i32 = 1;
const FLAG_RELU: i32 = 2;
/** Output tiles per SIMD chunk (a multiple of 4, the micro-kernel's rows). */
const CHUNK: i32 = 16;
/** Tiles per SIMD chunk of the filter gradient (the GEMMs' reduction length). */
const CHUNK_FILTER: i32 = 32;
/**
 * Bytes added between the 36 Winograd-domain blocks of a chunk. The blocks are powers of two in
 * size (e.g. 16 tiles × 64 channels = 4 KiB): unpadded, the 36 values of one tile map to the same
 * L1 cache set and evict each other.
 */
const XI_PAD: i32 = 64;

// ---------------------------------------------------------------------------------------------
// 1-D transforms on six (or five / two) values at `src + i·ss`, written to `dst + i·ds` (bytes).
// Scalar (f32) and f32x4 versions with the same arithmetic in the same order.
// ---------------------------------------------------------------------------------------------

/** r = Bᵀ d. */
// @ts-ignore: decorator
@inline function inputRow(src: usize, ss: usize, dst: usize, ds: usize): void {
  const d0 = load<f32>(src), d1 = load<f32>(src + ss), d2 = load<f32>(src + 2 * ss);
  const d3 = load<f32>(src + 3 * ss), d4 = load<f32>(src + 4 * ss), d5 = load<f32>(src + 5 * ss);
  const t1 = d4 - d2 * 4, t2 = d3 - d1 * 4, t3 = d4 - d2, t4 = (d3 - d1) * 2;
  store<f32>(dst, d0 * 4 - d2 * 5 + d4);
  store<f32>(dst + ds, t1 + t2);
  store<f32>(dst + 2 * ds, t1 - t2);
  store<f32>(dst + 3 * ds, t3 + t4);
  store<f32>(dst + 4 * ds, t3 - t4);
  store<f32>(dst + 5 * ds, d1 * 4 - d3 * 5 + d5);
}

/** o = Aᵀ m (two outputs). */
// @ts-ignore: decorator
@inline function outputRow(src: usize, ss: usize, dst: usize, ds: usize): void {
  const m0 = load<f32>(src), m1 = load<f32>(src + ss), m2 = load<f32>(src + 2 * ss);
  const m3 = load<f32>(src + 3 * ss), m4 = load<f32>(src + 4 * ss), m5 = load<f32>(src + 5 * ss);
  store<f32>(dst, m0 + m1 + m2 + m3 + m4);
  store<f32>(dst + ds, m1 - m2 + (m3 - m4) * 2 + m5);
}

/** dm = A o (the adjoint of outputRow: two values in, six out). */
// @ts-ignore: decorator
@inline function outputRowAdjoint(src: usize, ss: usize, dst: usize, ds: usize): void {
  const o0 = load<f32>(src), o1 = load<f32>(src + ss);
  store<f32>(dst, o0);
  store<f32>(dst + ds, o0 + o1);
  store<f32>(dst + 2 * ds, o0 - o1);
  store<f32>(dst + 3 * ds, o0 + o1 * 2);
  store<f32>(dst + 4 * ds, o0 - o1 * 2);
  store<f32>(dst + 5 * ds, o1);
}

/** u = G g (five values in, six out). */
// @ts-ignore: decorator
@inline function filterRow(src: usize, ss: usize, dst: usize, ds: usize): void {
  const g0 = load<f32>(src), g1 = load<f32>(src + ss), g2 = load<f32>(src + 2 * ss);
  const g3 = load<f32>(src + 3 * ss), g4 = load<f32>(src + 4 * ss);
  const even = g0 + g2 + g4, odd = g1 + g3;
  const even4 = g0 + g2 * 4 + g4 * 16, odd2 = g1 * 2 + g3 * 8;
  store<f32>(dst, g0 / 4);
  store<f32>(dst + ds, -(even + odd) / 6);
  store<f32>(dst + 2 * ds, -(even - odd) / 6);
  store<f32>(dst + 3 * ds, (even4 + odd2) / 24);
  store<f32>(dst + 4 * ds, (even4 - odd2) / 24);
  store<f32>(dst + 5 * ds, g4);
}

/** dg = Gᵀ u (the adjoint of filterRow: six values in, five out). */
// @ts-ignore: decorator
@inline function filterRowAdjoint(src: usize, ss: usize, dst: usize, ds: usize): void {
  const u0 = load<f32>(src), u1 = load<f32>(src + ss), u2 = load<f32>(src + 2 * ss);
  const u3 = load<f32>(src + 3 * ss), u4 = load<f32>(src + 4 * ss), u5 = load<f32>(src + 5 * ss);
  const p = -(u1 + u2) / 6, q = (u2 - u1) / 6, r = (u3 + u4) / 24, s = (u3 - u4) / 12;
  store<f32>(dst, u0 / 4 + p + r);
  store<f32>(dst + ds, q + s);
  store<f32>(dst + 2 * ds, p + r * 4);
  store<f32>(dst + 3 * ds, q + s * 4);
  store<f32>(dst + 4 * ds, p + r * 16 + u5);
}

// @ts-ignore: decorator
@inline function splat(v: f32): v128 {
  return f32x4.splat(v);
}

/** inputRow on f32x4. */
// @ts-ignore: decorator
@inline function inputRow4(src: usize, ss: usize, dst: usize, ds: usize): void {
  const d0 = v128.load(src), d1 = v128.load(src + ss), d2 = v128.load(src + 2 * ss);
  const d3 = v128.load(src + 3 * ss), d4 = v128.load(src + 4 * ss), d5 = v128.load(src + 5 * ss);
  const four = splat(4), five = splat(5), two = splat(2);
  const t1 = f32x4.sub(d4, f32x4.mul(four, d2)), t2 = f32x4.sub(d3, f32x4.mul(four, d1));
  const t3 = f32x4.sub(d4, d2), t4 = f32x4.mul(two, f32x4.sub(d3, d1));
  v128.store(dst, f32x4.add(f32x4.sub(f32x4.mul(four, d0), f32x4.mul(five, d2)), d4));
  v128.store(dst + ds, f32x4.add(t1, t2));
  v128.store(dst + 2 * ds, f32x4.sub(t1, t2));
  v128.store(dst + 3 * ds, f32x4.add(t3, t4));
  v128.store(dst + 4 * ds, f32x4.sub(t3, t4));
  v128.store(dst + 5 * ds, f32x4.add(f32x4.sub(f32x4.mul(four, d1), f32x4.mul(five, d3)), d5));
}

/** outputRow on f32x4. */
// @ts-ignore: decorator
@inline function outputRow4(src: usize, ss: usize, dst: usize, ds: usize): void {
  const m0 = v128.load(src), m1 = v128.load(src + ss), m2 = v128.load(src + 2 * ss);
  const m3 = v128.load(src + 3 * ss), m4 = v128.load(src + 4 * ss), m5 = v128.load(src + 5 * ss);
  v128.store(dst, f32x4.add(f32x4.add(f32x4.add(f32x4.add(m0, m1), m2), m3), m4));
  v128.store(dst + ds, f32x4.add(f32x4.add(f32x4.sub(m1, m2), f32x4.mul(splat(2), f32x4.sub(m3, m4))), m5));
}

/** outputRowAdjoint on f32x4. */
// @ts-ignore: decorator
@inline function outputRowAdjoint4(src: usize, ss: usize, dst: usize, ds: usize): void {
  const o0 = v128.load(src), o1 = v128.load(src + ss), o2 = f32x4.mul(splat(2), o1);
  v128.store(dst, o0);
  v128.store(dst + ds, f32x4.add(o0, o1));
  v128.store(dst + 2 * ds, f32x4.sub(o0, o1));
  v128.store(dst + 3 * ds, f32x4.add(o0, o2));
  v128.store(dst + 4 * ds, f32x4.sub(o0, o2));
  v128.store(dst + 5 * ds, o1);
}

/** filterRow on f32x4 (same operations, same order). */
// @ts-ignore: decorator
@inline function filterRow4(src: usize, ss: usize, dst: usize, ds: usize): void {
  const g0 = v128.load(src), g1 = v128.load(src + ss), g2 = v128.load(src + 2 * ss);
  const g3 = v128.load(src + 3 * ss), g4 = v128.load(src + 4 * ss);
  const even = f32x4.add(f32x4.add(g0, g2), g4), odd = f32x4.add(g1, g3);
  const even4 = f32x4.add(f32x4.add(g0, f32x4.mul(g2, splat(4))), f32x4.mul(g4, splat(16)));
  const odd2 = f32x4.add(f32x4.mul(g1, splat(2)), f32x4.mul(g3, splat(8)));
  v128.store(dst, f32x4.div(g0, splat(4)));
  v128.store(dst + ds, f32x4.div(f32x4.neg(f32x4.add(even, odd)), splat(6)));
  v128.store(dst + 2 * ds, f32x4.div(f32x4.neg(f32x4.sub(even, odd)), splat(6)));
  v128.store(dst + 3 * ds, f32x4.div(f32x4.add(even4, odd2), splat(24)));
  v128.store(dst + 4 * ds, f32x4.div(f32x4.sub(even4, odd2), splat(24)));
  v128.store(dst + 5 * ds, g4);
}

/** filterRowAdjoint on f32x4 (same operations, same order). */
// @ts-ignore: decorator
@inline function filterRowAdjoint4(src: usize, ss: usize, dst: usize, ds: usize): void {
  const u0 = v128.load(src), u1 = v128.load(src + ss), u2 = v128.load(src + 2 * ss);
  const u3 = v128.load(src + 3 * ss), u4 = v128.load(src + 4 * ss), u5 = v128.load(src + 5 * ss);
  const p = f32x4.div(f32x4.neg(f32x4.add(u1, u2)), splat(6)), q = f32x4.div(f32x4.sub(u2, u1), splat(6));
  const r = f32x4.div(f32x4.add(u3, u4), splat(24)), s = f32x4.div(f32x4.sub(u3, u4), splat(12));
  v128.store(dst, f32x4.add(f32x4.add(f32x4.div(u0, splat(4)), p), r));
  v128.store(dst + ds, f32x4.add(q, s));
  v128.store(dst + 2 * ds, f32x4.add(p, f32x4.mul(r, splat(4))));
  v128.store(dst + 3 * ds, f32x4.add(q, f32x4.mul(s, splat(4))));
  v128.store(dst + 4 * ds, f32x4.add(f32x4.add(p, f32x4.mul(r, splat(16))), u5));
}

// ---------------------------------------------------------------------------------------------
// Filter transform and its adjoint (cheap: once per call; split over k)
// ---------------------------------------------------------------------------------------------

/** Offset in floats of U[ξ][c/8][k][c%8]. */
// @ts-ignore: decorator
@inline function uIndex(xi: i32, k: i32, c: i32, KP: i32, CP: i32): i32 {
  return ((xi * (CP >> 3) + (c >> 3)) * KP + k) * 8 + (c & 7);
}

/** U for one (k, c) pair into U; `tmp`: 5·6 + 36 floats. Zero for padded k or c. */
function filterPair(w: usize, U: usize, Cin: i32, Cout: i32, flip: bool, K: i32, C: i32, KP: i32, CP: i32, k: i32, c: i32, tmp: usize): void {
  const g = tmp, gu = tmp + 30 * 4, u = tmp + 60 * 4;
  const inside = k < K && c < C;
  for (let kh = 0; kh < 5; kh++) {
    for (let kw = 0; kw < 5; kw++) {
      let v: f32 = 0;
      if (inside) {
        v = flip
          ? load<f32>(w + ((<usize>(((4 - kh) * 5 + 4 - kw) * Cin + c) * Cout + k) << 2))
          : load<f32>(w + ((<usize>((kh * 5 + kw) * Cin + k) * Cout + c) << 2));
      }
      store<f32>(g + (<usize>(kh * 5 + kw) << 2), v);
    }
  }
  // Columns: gu[a][kw] = Σ_kh G[a][kh]·g[kh][kw]; rows: u[a][b] = Σ_kw gu[a][kw]·G[b][kw].
  for (let kw = 0; kw < 5; kw++) filterRow(g + (<usize>kw << 2), 20, gu + (<usize>kw << 2), 20);
  for (let a = 0; a < 6; a++) filterRow(gu + (<usize>(a * 5) << 2), 4, u + (<usize>(a * 6) << 2), 4);
  for (let xi = 0; xi < 36; xi++) store<f32>(U + (<usize>uIndex(xi, k, c, KP, CP) << 2), load<f32>(u + (<usize>xi << 2)));
}

export function f32_winograd_filter_scratch(params: usize): i32 {
  return (25 + 30 + 36) * 16; // the SIMD version's f32x4 tiles; the scalar one uses 96 floats
}

export function f32_winograd_filter__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const w = paramPtr(params, 0), U = paramPtr(params, 1), Cin = paramI32(params, 2), Cout = paramI32(params, 3);
  const flip = (paramI32(params, 4) & FLAG_FLIP) != 0;
  const K = flip ? Cout : Cin, C = flip ? Cin : Cout, KP = roundUp(K, 4), CP = roundUp(C, 8);
  assert(0 <= begin && begin <= end && end <= KP, "f32_winograd_filter: range outside [0, KP)");
  for (let k = begin; k < end; k++) {
    for (let c = 0; c < CP; c++) filterPair(w, U, Cin, Cout, flip, K, C, KP, CP, k, c, scratch);
  }
}

/** As the scalar version, four output channels c at a time (U's 8-wide panels hold them contiguously). */
export function f32_winograd_filter__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const w = paramPtr(params, 0), U = paramPtr(params, 1), Cin = paramI32(params, 2), Cout = paramI32(params, 3);
  const flip = (paramI32(params, 4) & FLAG_FLIP) != 0;
  const K = flip ? Cout : Cin, C = flip ? Cin : Cout, KP = roundUp(K, 4), CP = roundUp(C, 8);
  assert(0 <= begin && begin <= end && end <= KP, "f32_winograd_filter: range outside [0, KP)");
  const g = scratch, gu = g + 25 * 16, u = gu + 30 * 16;
  for (let k = begin; k < end; k++) {
    for (let c = 0; c < CP; c += 4) {
      for (let t = 0; t < 25; t++) {
        const slot = g + (<usize>t << 4);
        if (k < K && !flip && c + 4 <= C) {
          v128.store(slot, v128.load(w + ((<usize>(t * Cin + k) * Cout + c) << 2)));
          continue;
        }
        // Flipped filter (channels strided), a channel tail or a padded k: lane by lane.
        const kh = t / 5, kw = t % 5;
        for (let j = 0; j < 4; j++) {
          let v: f32 = 0;
          if (k < K && c + j < C) {
            const at = flip ? (((4 - kh) * 5 + 4 - kw) * Cin + c + j) * Cout + k : (t * Cin + k) * Cout + c + j;
            v = load<f32>(w + (<usize>at << 2));
          }
          store<f32>(slot + (<usize>j << 2), v);
        }
      }
      for (let kw = 0; kw < 5; kw++) filterRow4(g + (<usize>kw << 4), 80, gu + (<usize>kw << 4), 80);
      for (let a = 0; a < 6; a++) filterRow4(gu + (<usize>(a * 5) << 4), 16, u + (<usize>(a * 6) << 4), 16);
      for (let xi = 0; xi < 36; xi++) v128.store(U + (<usize>uIndex(xi, k, c, KP, CP) << 2), v128.load(u + (<usize>xi << 4)));
    }
  }
}

export function f32_winograd_filter_bwd_scratch(params: usize): i32 {
  return (36 + 30 + 25) * 16; // the SIMD version's f32x4 tiles; the scalar one uses 91 floats
}

export function f32_winograd_filter_bwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const dU = paramPtr(params, 0), dw = paramPtr(params, 1), K = paramI32(params, 2), C = paramI32(params, 3);
  const KP = roundUp(K, 4), CP = roundUp(C, 8);
  assert(0 <= begin && begin <= end && end <= K, "f32_winograd_filter_bwd: range outside [0, K)");
  const u = scratch, ug = scratch + 36 * 4, dg = scratch + 66 * 4;
  for (let k = begin; k < end; k++) {
    for (let c = 0; c < C; c++) {
      for (let xi = 0; xi < 36; xi++) store<f32>(u + (<usize>xi << 2), load<f32>(dU + ((<usize>(xi * KP + k) * CP + c) << 2)));
      // Rows: ug[a][kw] = Σ_b u[a][b]·G[b][kw]; columns: dg[kh][kw] = Σ_a G[a][kh]·ug[a][kw].
      for (let a = 0; a < 6; a++) filterRowAdjoint(u + (<usize>(a * 6) << 2), 4, ug + (<usize>(a * 5) << 2), 4);
      for (let kw = 0; kw < 5; kw++) filterRowAdjoint(ug + (<usize>kw << 2), 20, dg + (<usize>kw << 2), 20);
      for (let t = 0; t < 25; t++) store<f32>(dw + ((<usize>(t * K + k) * C + c) << 2), load<f32>(dg + (<usize>t << 2)));
    }
  }
}

/** As the scalar version, four output channels c at a time. */
export function f32_winograd_filter_bwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const dU = paramPtr(params, 0), dw = paramPtr(params, 1), K = paramI32(params, 2), C = paramI32(params, 3);
  const KP = roundUp(K, 4), CP = roundUp(C, 8);
  assert(0 <= begin && begin <= end && end <= K, "f32_winograd_filter_bwd: range outside [0, K)");
  const u = scratch, ug = u + 36 * 16, dg = ug + 30 * 16;
  for (let k = begin; k < end; k++) {
    for (let c = 0; c < C; c += 4) {
      // c + 4 ≤ CP always: dU's padded columns are read and their lanes dropped.
      for (let xi = 0; xi < 36; xi++) v128.store(u + (<usize>xi << 4), v128.load(dU + ((<usize>(xi * KP + k) * CP + c) << 2)));
      for (let a = 0; a < 6; a++) filterRowAdjoint4(u + (<usize>(a * 6) << 4), 16, ug + (<usize>(a * 5) << 4), 16);
      for (let kw = 0; kw < 5; kw++) filterRowAdjoint4(ug + (<usize>kw << 4), 80, dg + (<usize>kw << 4), 80);
      for (let t = 0; t < 25; t++) {
        const v = v128.load(dg + (<usize>t << 4)), dst = dw + ((<usize>(t * K + k) * C + c) << 2);
        storeLanes(dst, v, C - c);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Forward: scalar reference, one tile at a time
// ---------------------------------------------------------------------------------------------

export function f32_winograd_fwd_scratch(params: usize): i32 {
  const KP = roundUp(paramI32(params, 7), 4), CP = roundUp(paramI32(params, 10), 8);
  const scalar = 36 * KP + 36 * CP + 72;
  const simd = 36 * CHUNK * (KP + CP) + 2 * 36 * (XI_PAD >> 2) + 2 * 36 * 4;
  return max(scalar, simd) << 2;
}

/**
 * V[ξ][k] = (Bᵀ d B)[ξ] for the 6×6 input tile at (ih0, iw0) of image n, every channel k < KP
 * (zero outside the image and for k ≥ K). `d`, `e`: 36 floats each.
 */
function inputTileScalar(x: usize, n: i32, H: i32, W: i32, K: i32, KP: i32, ih0: i32, iw0: i32, V: usize, d: usize, e: usize): void {
  for (let k = 0; k < KP; k++) {
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 6; j++) {
        const ih = ih0 + i, iw = iw0 + j;
        const inside = k < K && ih >= 0 && ih < H && iw >= 0 && iw < W;
        store<f32>(d + (<usize>(i * 6 + j) << 2), inside ? load<f32>(x + ((<usize>((n * H + ih) * W + iw) * K + k) << 2)) : 0);
      }
    }
    for (let j = 0; j < 6; j++) inputRow(d + (<usize>j << 2), 24, e + (<usize>j << 2), 24);
    for (let i = 0; i < 6; i++) inputRow(e + (<usize>(i * 6) << 2), 4, V + (<usize>(i * 6 * KP + k) << 2), <usize>KP << 2);
  }
}

export function f32_winograd_fwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const x = paramPtr(params, 0), U = paramPtr(params, 1), bias = paramPtr(params, 2), y = paramPtr(params, 3);
  const N = paramI32(params, 4), H = paramI32(params, 5), W = paramI32(params, 6), K = paramI32(params, 7);
  const OH = paramI32(params, 8), OW = paramI32(params, 9), C = paramI32(params, 10);
  const padTop = paramI32(params, 11), padLeft = paramI32(params, 12), relu = (paramI32(params, 13) & FLAG_RELU) != 0;
  const TH = (OH + 1) >> 1, TW = (OW + 1) >> 1, KP = roundUp(K, 4), CP = roundUp(C, 8);
  assert(0 <= begin && begin <= end && end <= N * TH * TW, "f32_winograd_fwd: range outside the tiles");
  const V = scratch, M = V + ((<usize>36 * KP) << 2), d = M + ((<usize>36 * CP) << 2), e = d + 36 * 4;
  for (let t = begin; t < end; t++) {
    const n = t / (TH * TW), oh0 = ((t / TW) % TH) * 2, ow0 = (t % TW) * 2;
    inputTileScalar(x, n, H, W, K, KP, oh0 - padTop, ow0 - padLeft, V, d, e);
    // M[ξ][c] = Σ_k V[ξ][k]·U[ξ][k][c].
    for (let xi = 0; xi < 36; xi++) {
      for (let c = 0; c < C; c++) {
        let sum: f32 = 0;
        for (let k = 0; k < KP; k++) sum += load<f32>(V + (<usize>(xi * KP + k) << 2)) * load<f32>(U + (<usize>uIndex(xi, k, c, KP, CP) << 2));
        store<f32>(M + (<usize>(xi * CP + c) << 2), sum);
      }
    }
    // Y = Aᵀ M A, then bias and ReLU, valid outputs only.
    for (let c = 0; c < C; c++) {
      for (let j = 0; j < 6; j++) outputRow(M + (<usize>(j * CP + c) << 2), <usize>(6 * CP) << 2, e + (<usize>j << 2), 24);
      for (let i = 0; i < 2; i++) outputRow(e + (<usize>(i * 6) << 2), 4, d + (<usize>(i * 2) << 2), 4);
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 2; j++) {
          const oh = oh0 + i, ow = ow0 + j;
          if (oh >= OH || ow >= OW) continue;
          let v = load<f32>(d + (<usize>(i * 2 + j) << 2));
          if (bias) v += load<f32>(bias + (<usize>c << 2));
          if (relu) v = max<f32>(v, 0);
          store<f32>(y + ((<usize>((n * OH + oh) * OW + ow) * C + c) << 2), v);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Forward: SIMD, chunks of CHUNK tiles: input transform → 36 GEMMs → output transform
// ---------------------------------------------------------------------------------------------

/**
 * V[ξ][slot][k0..k0+4) for one tile and 4 channels, from the input through a 6×6 f32x4 scratch
 * `d` (576 bytes) and `e` (576 bytes). Lanes k ≥ K and pixels outside the image read as zero.
 */
// @ts-ignore: decorator
@inline function inputTile4(x: usize, n: i32, H: i32, W: i32, K: i32, ih0: i32, iw0: i32, k0: i32, d: usize, e: usize, v: usize, vStride: usize): void {
  const interior = ih0 >= 0 && iw0 >= 0 && ih0 + 6 <= H && iw0 + 6 <= W && k0 + 4 <= K;
  if (interior) {
    // Column transforms straight from the image (row stride W·K floats).
    const src = x + ((<usize>((n * H + ih0) * W + iw0) * K + k0) << 2);
    const rowBytes = <usize>(W * K) << 2, pixBytes = <usize>K << 2;
    for (let j = 0; j < 6; j++) inputRow4(src + <usize>j * pixBytes, rowBytes, e + (<usize>j << 4), 96);
  } else {
    for (let i = 0; i < 6; i++) {
      const ih = ih0 + i;
      for (let j = 0; j < 6; j++) {
        const iw = iw0 + j;
        let val = f32x4.splat(0);
        if (ih >= 0 && ih < H && iw >= 0 && iw < W) val = loadLanes(x + ((<usize>((n * H + ih) * W + iw) * K + k0) << 2), K - k0);
        v128.store(d + (<usize>(i * 6 + j) << 4), val);
      }
    }
    for (let j = 0; j < 6; j++) inputRow4(d + (<usize>j << 4), 96, e + (<usize>j << 4), 96);
  }
  // Row transforms into V: position ξ = 6i + b lands at v + ξ·vStride.
  for (let i = 0; i < 6; i++) inputRow4(e + (<usize>(i * 6) << 4), 16, v + <usize>(i * 6) * vStride, vStride);
}

export function f32_winograd_fwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const x = paramPtr(params, 0), U = paramPtr(params, 1), bias = paramPtr(params, 2), y = paramPtr(params, 3);
  const N = paramI32(params, 4), H = paramI32(params, 5), W = paramI32(params, 6), K = paramI32(params, 7);
  const OH = paramI32(params, 8), OW = paramI32(params, 9), C = paramI32(params, 10);
  const padTop = paramI32(params, 11), padLeft = paramI32(params, 12), relu = (paramI32(params, 13) & FLAG_RELU) != 0;
  const TH = (OH + 1) >> 1, TW = (OW + 1) >> 1, KP = roundUp(K, 4), CP = roundUp(C, 8);
  assert(0 <= begin && begin <= end && end <= N * TH * TW, "f32_winograd_fwd: range outside the tiles");
  // V[ξ][slot][KP], M[ξ][slot][CP]; d, e: 6×6 f32x4 transform scratch.
  const vXi: usize = ((<usize>CHUNK * KP) << 2) + XI_PAD, mXi: usize = ((<usize>CHUNK * CP) << 2) + XI_PAD;
  const V = scratch, M = V + 36 * vXi, d = M + 36 * mXi, e = d + 576;
  const panels = CP >> 3;
  const zero = f32x4.splat(0);
  for (let t0 = begin; t0 < end; t0 += CHUNK) {
    const tiles = min(CHUNK, end - t0), rows = roundUp(tiles, 4);
    for (let s = 0; s < rows; s++) {
      const v = V + ((<usize>s * KP) << 2);
      if (s >= tiles) {
        // Rows of the last micro-kernel block without a tile: zeros (their outputs are dropped).
        for (let xi = 0; xi < 36; xi++) for (let k = 0; k < KP; k += 4) v128.store(v + <usize>xi * vXi + (<usize>k << 2), zero);
        continue;
      }
      const t = t0 + s;
      const n = t / (TH * TW), oh0 = ((t / TW) % TH) * 2, ow0 = (t % TW) * 2;
      for (let k = 0; k < KP; k += 4) inputTile4(x, n, H, W, K, oh0 - padTop, ow0 - padLeft, k, d, e, v + (<usize>k << 2), vXi);
    }
    // M[ξ] (rows × CP) = V[ξ] (rows × KP) · U[ξ] (KP × CP, packed panels).
    for (let xi = 0; xi < 36; xi++) {
      const a = V + <usize>xi * vXi, m = M + <usize>xi * mXi;
      for (let p = 0; p < panels; p++) {
        const b = U + ((<usize>(xi * panels + p) * KP * 8) << 2);
        for (let r = 0; r < rows; r += 4) {
          microRowMajor(KP, a + ((<usize>r * KP) << 2), <usize>KP << 2, b, m + ((<usize>(r * CP + p * 8)) << 2), <usize>CP << 2, true);
        }
      }
    }
    for (let s = 0; s < tiles; s++) {
      const t = t0 + s;
      const n = t / (TH * TW), oh0 = ((t / TW) % TH) * 2, ow0 = (t % TW) * 2;
      const full = oh0 + 2 <= OH && ow0 + 2 <= OW;
      const m = M + ((<usize>s * CP) << 2);
      for (let c = 0; c < C; c += 4) {
        // Columns: e[i][b] (i < 2) = Σ_a Aᵀ[i][a]·M[6a + b]; rows: the 2×2 outputs into d.
        for (let j = 0; j < 6; j++) outputRow4(m + <usize>j * mXi + (<usize>c << 2), 6 * mXi, e + (<usize>j << 4), 96);
        for (let i = 0; i < 2; i++) outputRow4(e + (<usize>(i * 6) << 4), 16, d + (<usize>(i * 2) << 4), 16);
        const bv = bias ? loadLanes(bias + (<usize>c << 2), C - c) : zero;
        for (let i = 0; i < 2; i++) {
          for (let j = 0; j < 2; j++) {
            const oh = oh0 + i, ow = ow0 + j;
            if (!full && (oh >= OH || ow >= OW)) continue;
            let val = f32x4.add(v128.load(d + (<usize>(i * 2 + j) << 4)), bv);
            if (relu) val = f32x4.max(val, zero);
            const dst = y + ((<usize>((n * OH + oh) * OW + ow) * C + c) << 2);
            storeLanes(dst, val, C - c);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward to the filter: dU = Σ_tiles V ⊗ (A dy Aᵀ), then f32_winograd_filter_bwd
// ---------------------------------------------------------------------------------------------

export function f32_winograd_bwd_filter_scratch(params: usize): i32 {
  const KP = roundUp(paramI32(params, 5), 4), CP = roundUp(paramI32(params, 8), 8);
  const scalar = 36 * KP + 36 * CP + 72;
  const simd = 36 * CHUNK_FILTER * (KP + CP) + 2 * 36 * (XI_PAD >> 2) + 2 * 36 * 4;
  return max(scalar, simd) << 2;
}

export function f32_winograd_bwd_filter__scalar(params: usize, begin: i32, end: i32, scratch: usize, partial: usize): void {
  const x = paramPtr(params, 0), dy = paramPtr(params, 1);
  const N = paramI32(params, 2), H = paramI32(params, 3), W = paramI32(params, 4), K = paramI32(params, 5);
  const OH = paramI32(params, 6), OW = paramI32(params, 7), C = paramI32(params, 8);
  const padTop = paramI32(params, 9), padLeft = paramI32(params, 10);
  const TH = (OH + 1) >> 1, TW = (OW + 1) >> 1, KP = roundUp(K, 4), CP = roundUp(C, 8);
  assert(0 <= begin && begin <= end && end <= N * TH * TW, "f32_winograd_bwd_filter: range outside the tiles");
  const V = scratch, DM = V + ((<usize>36 * KP) << 2), d = DM + ((<usize>36 * CP) << 2), e = d + 36 * 4;
  memory.fill(partial, 0, (<usize>36 * KP * CP) << 2);
  for (let t = begin; t < end; t++) {
    const n = t / (TH * TW), oh0 = ((t / TW) % TH) * 2, ow0 = (t % TW) * 2;
    inputTileScalar(x, n, H, W, K, KP, oh0 - padTop, ow0 - padLeft, V, d, e);
    // DM[ξ][c] = (A dy Aᵀ)[ξ] of the 2×2 output-gradient tile of channel c (zero outside).
    for (let c = 0; c < CP; c++) {
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 2; j++) {
          const oh = oh0 + i, ow = ow0 + j;
          const inside = c < C && oh < OH && ow < OW;
          store<f32>(d + (<usize>(i * 2 + j) << 2), inside ? load<f32>(dy + ((<usize>((n * OH + oh) * OW + ow) * C + c) << 2)) : 0);
        }
      }
      for (let j = 0; j < 2; j++) outputRowAdjoint(d + (<usize>j << 2), 8, e + (<usize>j << 2), 8);
      for (let a = 0; a < 6; a++) outputRowAdjoint(e + (<usize>(a * 2) << 2), 4, DM + (<usize>(a * 6 * CP + c) << 2), <usize>CP << 2);
    }
    for (let xi = 0; xi < 36; xi++) {
      for (let k = 0; k < KP; k++) {
        const vk = load<f32>(V + (<usize>(xi * KP + k) << 2));
        for (let c = 0; c < CP; c++) {
          const at = partial + ((<usize>(xi * KP + k) * CP + c) << 2);
          store<f32>(at, load<f32>(at) + vk * load<f32>(DM + (<usize>(xi * CP + c) << 2)));
        }
      }
    }
  }
}

export function f32_winograd_bwd_filter__simd(params: usize, begin: i32, end: i32, scratch: usize, partial: usize): void {
  const x = paramPtr(params, 0), dy = paramPtr(params, 1);
  const N = paramI32(params, 2), H = paramI32(params, 3), W = paramI32(params, 4), K = paramI32(params, 5);
  const OH = paramI32(params, 6), OW = paramI32(params, 7), C = paramI32(params, 8);
  const padTop = paramI32(params, 9), padLeft = paramI32(params, 10);
  const TH = (OH + 1) >> 1, TW = (OW + 1) >> 1, KP = roundUp(K, 4), CP = roundUp(C, 8);
  assert(0 <= begin && begin <= end && end <= N * TH * TW, "f32_winograd_bwd_filter: range outside the tiles");
  const vXi: usize = ((<usize>CHUNK_FILTER * KP) << 2) + XI_PAD, mXi: usize = ((<usize>CHUNK_FILTER * CP) << 2) + XI_PAD;
  const V = scratch, DM = V + 36 * vXi, d = DM + 36 * mXi, e = d + 576;
  const zero = f32x4.splat(0);
  memory.fill(partial, 0, (<usize>36 * KP * CP) << 2);
  for (let t0 = begin; t0 < end; t0 += CHUNK_FILTER) {
    const tiles = min(CHUNK_FILTER, end - t0);
    for (let s = 0; s < tiles; s++) {
      const t = t0 + s;
      const n = t / (TH * TW), oh0 = ((t / TW) % TH) * 2, ow0 = (t % TW) * 2;
      const v = V + ((<usize>s * KP) << 2), dm = DM + ((<usize>s * CP) << 2);
      for (let k = 0; k < KP; k += 4) inputTile4(x, n, H, W, K, oh0 - padTop, ow0 - padLeft, k, d, e, v + (<usize>k << 2), vXi);
      for (let c = 0; c < CP; c += 4) {
        for (let i = 0; i < 2; i++) {
          for (let j = 0; j < 2; j++) {
            const oh = oh0 + i, ow = ow0 + j;
            let val = zero;
            if (c < C && oh < OH && ow < OW) {
              const src = dy + ((<usize>((n * OH + oh) * OW + ow) * C + c) << 2);
              val = loadLanes(src, C - c);
            }
            v128.store(d + (<usize>(i * 2 + j) << 4), val);
          }
        }
        for (let j = 0; j < 2; j++) outputRowAdjoint4(d + (<usize>j << 4), 32, e + (<usize>j << 4), 32);
        for (let a = 0; a < 6; a++) outputRowAdjoint4(e + (<usize>(a * 2) << 4), 16, dm + <usize>(a * 6) * mXi + (<usize>c << 2), mXi);
      }
    }
    // dU[ξ] (KP × CP) += V[ξ]ᵀ (KP × tiles) · DM[ξ] (tiles × CP): 4 k × 8 c blocks over the tiles.
    for (let xi = 0; xi < 36; xi++) {
      const a = V + <usize>xi * vXi, b = DM + <usize>xi * mXi;
      for (let k = 0; k < KP; k += 4) {
        for (let c = 0; c < CP; c += 8) {
          // 4 k (contiguous in a V row) × 8 c, summed over the tiles (V and DM rows), accumulating.
          micro4x8(tiles, a + (<usize>k << 2), 4, <usize>KP << 2, b + (<usize>c << 2), <usize>CP << 2,
            partial + ((<usize>(xi * KP + k) * CP + c) << 2), <usize>CP << 2, false);
        }
      }
    }
  }
}
