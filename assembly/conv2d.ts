// f32 2-D convolution (cross-correlation, as in TF/PyTorch): forward, backward to the input,
// backward to the filter.
//
// Layouts (row-major f32):
//   x:  (N, H, W, Cin)       NHWC input          dx: same shape as x
//   w:  (KH, KW, Cin, Cout)  HWIO filter         dw: same shape as w
//   y:  (N, OH, OW, Cout)    NHWC output         dy: same shape as y
//   bias: (Cout) or none
//   y[n,oh,ow,co] = act(bias[co] + Σ_{kh,kw,ci} x[n, oh·s+kh−padTop, ow·s+kw−padLeft, ci] · w[kh,kw,ci,co])
//   with x = 0 outside the image (zero padding). The caller (src/kernels/conv2d.ts) computes
//   OH, OW, padTop, padLeft for SAME / VALID / explicit padding.
// Parameter block (i32 fields):
//   0 x (fwd, bwd_filter: input; bwd_input: dx, written)   1 w (fwd, bwd_input)   2 bias (fwd, 0 = none)
//   3 y (fwd: output; bwd_input, bwd_filter: dy)   4 N  5 H  6 W  7 Cin  8 OH  9 OW  10 Cout
//   11 KH  12 KW  13 stride  14 padTop  15 padLeft  16 flags (bit 1: ReLU after bias, fwd only)
// Variants:
//   __scalar  direct loops, the reference. Sums over (kh, kw, ci) [fwd], (kh, kw, co) [bwd_input]
//             and pixels [bwd_filter] in that order.
//   __simd    implicit GEMM on the packed GEMM of gemm.ts: a chunk of pixels is gathered into
//             rows (im2col, zeros for padding), multiplied by the packed filter with the 4×8
//             micro-kernel, written straight into NHWC rows. Same summation order as __scalar
//             except the ReLU/bias epilogue order, so results agree to f32 rounding.
//     fwd:        C[pixel, co] = patch(x)[pixel, (kh,kw,ci)] · w[(kh,kw,ci), co]
//     bwd_input:  dx[pixel, ci] = patch(dy)[pixel, (kh,kw,co)] · w'[(kh,kw,co), ci], where
//                 patch(dy) gathers dy[n, (ih+padTop−kh)/s, (iw+padLeft−kw)/s, :] when the division
//                 is exact and in range (the adjoint of the forward gather), and w' transposes each tap.
//     bwd_filter: dw[(kh,kw,ci), co] = Σ_pixels patch(x)[pixel, (kh,kw,ci)] · dy[pixel, co].
//   __simd with Cin < SMALL_CIN (4; e.g. MNIST conv1, Cin = 1): direct paths, no im2col (K = KH·KW·Cin
//             is too short for the gather to pay). The input rows a step reads are copied zero-padded
//             into scratch, so every tap is valid and padding needs no branch.
//     fwd:        per output row, 4 pixels × 8 channels register tiles (8 f32x4 accumulators; per tap
//                 2 filter vectors from the 8-channel-packed filter, 4 splatted inputs at a table of
//                 tap offsets), summed over (kh, kw, ci), then bias and ReLU. Any stride; Cout and OW
//                 tails are computed on padding and not stored.
//     bwd_input:  a direct loop, SIMD over Cout (bwdInputDirect; 4 pixels at a time inside the row).
//     bwd_filter: 4 taps × 8 channels register tiles (splat 4 inputs, load 2 vectors of dy packed in
//                 8-channel panels) accumulate over chunks of output rows of each image into a padded
//                 dw in scratch, each element summing pixels in the scalar order (n, oh, ow); copied
//                 to `partial` at the end.
// Threading contract:
//   fwd:        [begin, end) over output rows n·OH + oh; independent.
//   bwd_input:  [begin, end) over input rows n·H + ih; independent (gather, no scatter).
//   bwd_filter: [begin, end) over images n; a REDUCTION: the kernel overwrites `partial` (KH·KW·Cin·Cout
//               floats) with the sum over its images; the caller sums partials in a fixed order.
// Scratch: f32_conv2d_<pass>_scratch(params) bytes per thread.
import { GEMM_KC, GEMM_MR, GEMM_NR, gemmPackedBlock, packB } from "./gemm";
import { hsum, madd, paramI32, paramPtr, roundUp, storeLanes } from "./simd";

const FLAG_RELU: i32 = 2;
/** Pixels gathered per chunk (fwd and bwd_input): one packed-A block. */
const CHUNK: i32 = 64;
/** Pixels per chunk in bwd_filter: the GEMM's K dimension, one KC block. */
const CHUNK_FILTER: i32 = GEMM_KC;
/** Below this many input channels bwd_input skips the GEMM (see bwdInputDirect). */
const SMALL_CIN: i32 = 4;

// ---------------------------------------------------------------------------------------------
// Scalar references
// ---------------------------------------------------------------------------------------------

export function f32_conv2d_fwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  assert(0 <= begin && begin <= end && end <= paramI32(params, 4) * paramI32(params, 8), "f32_conv2d_fwd: range outside the split index");
  const x = paramPtr(params, 0), w = paramPtr(params, 1), bias = paramPtr(params, 2), y = paramPtr(params, 3);
  const H = paramI32(params, 5), W = paramI32(params, 6), Cin = paramI32(params, 7);
  const OH = paramI32(params, 8), OW = paramI32(params, 9), Cout = paramI32(params, 10);
  const KH = paramI32(params, 11), KW = paramI32(params, 12), s = paramI32(params, 13);
  const padTop = paramI32(params, 14), padLeft = paramI32(params, 15), relu = (paramI32(params, 16) & FLAG_RELU) != 0;
  for (let r = begin; r < end; r++) {
    const n = r / OH, oh = r % OH;
    for (let ow = 0; ow < OW; ow++) {
      for (let co = 0; co < Cout; co++) {
        let sum: f32 = 0;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * s + kh - padTop;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * s + kw - padLeft;
            if (iw < 0 || iw >= W) continue;
            for (let ci = 0; ci < Cin; ci++) {
              const xv = load<f32>(x + ((<usize>((n * H + ih) * W + iw) * Cin + ci) << 2));
              const wv = load<f32>(w + ((<usize>((kh * KW + kw) * Cin + ci) * Cout + co) << 2));
              sum += xv * wv;
            }
          }
        }
        if (bias) sum += load<f32>(bias + (<usize>co << 2));
        if (relu) sum = max<f32>(sum, 0);
        store<f32>(y + ((<usize>(r * OW + ow) * Cout + co) << 2), sum);
      }
    }
  }
}

export function f32_conv2d_bwd_input__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  assert(0 <= begin && begin <= end && end <= paramI32(params, 4) * paramI32(params, 5), "f32_conv2d_bwd_input: range outside the split index");
  const dx = paramPtr(params, 0), w = paramPtr(params, 1), dy = paramPtr(params, 3);
  const H = paramI32(params, 5), W = paramI32(params, 6), Cin = paramI32(params, 7);
  const OH = paramI32(params, 8), OW = paramI32(params, 9), Cout = paramI32(params, 10);
  const KH = paramI32(params, 11), KW = paramI32(params, 12), s = paramI32(params, 13);
  const padTop = paramI32(params, 14), padLeft = paramI32(params, 15);
  for (let r = begin; r < end; r++) {
    const n = r / H, ih = r % H;
    for (let iw = 0; iw < W; iw++) {
      for (let ci = 0; ci < Cin; ci++) {
        let sum: f32 = 0;
        for (let kh = 0; kh < KH; kh++) {
          const ohs = ih + padTop - kh;
          if (ohs < 0 || ohs % s != 0 || ohs / s >= OH) continue;
          const oh = ohs / s;
          for (let kw = 0; kw < KW; kw++) {
            const ows = iw + padLeft - kw;
            if (ows < 0 || ows % s != 0 || ows / s >= OW) continue;
            const ow = ows / s;
            for (let co = 0; co < Cout; co++) {
              const g = load<f32>(dy + ((<usize>((n * OH + oh) * OW + ow) * Cout + co) << 2));
              const wv = load<f32>(w + ((<usize>((kh * KW + kw) * Cin + ci) * Cout + co) << 2));
              sum += g * wv;
            }
          }
        }
        store<f32>(dx + ((<usize>(r * W + iw) * Cin + ci) << 2), sum);
      }
    }
  }
}

export function f32_conv2d_bwd_filter__scalar(params: usize, begin: i32, end: i32, scratch: usize, partial: usize): void {
  assert(0 <= begin && begin <= end && end <= paramI32(params, 4), "f32_conv2d_bwd_filter: range outside the split index");
  const x = paramPtr(params, 0), dy = paramPtr(params, 3);
  const H = paramI32(params, 5), W = paramI32(params, 6), Cin = paramI32(params, 7);
  const OH = paramI32(params, 8), OW = paramI32(params, 9), Cout = paramI32(params, 10);
  const KH = paramI32(params, 11), KW = paramI32(params, 12), s = paramI32(params, 13);
  const padTop = paramI32(params, 14), padLeft = paramI32(params, 15);
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      for (let ci = 0; ci < Cin; ci++) {
        for (let co = 0; co < Cout; co++) {
          let sum: f32 = 0;
          for (let n = begin; n < end; n++) {
            for (let oh = 0; oh < OH; oh++) {
              const ih = oh * s + kh - padTop;
              if (ih < 0 || ih >= H) continue;
              for (let ow = 0; ow < OW; ow++) {
                const iw = ow * s + kw - padLeft;
                if (iw < 0 || iw >= W) continue;
                const xv = load<f32>(x + ((<usize>((n * H + ih) * W + iw) * Cin + ci) << 2));
                const g = load<f32>(dy + ((<usize>((n * OH + oh) * OW + ow) * Cout + co) << 2));
                sum += xv * g;
              }
            }
          }
          store<f32>(partial + ((<usize>((kh * KW + kw) * Cin + ci) * Cout + co) << 2), sum);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SIMD: implicit GEMM
// ---------------------------------------------------------------------------------------------

/** Floats of a packed B covering all K rows and N columns (panels of GEMM_NR). */
// @ts-ignore: decorator
@inline function packedBFloats(K: i32, N: i32): i32 {
  return roundUp(N, GEMM_NR) * K;
}

/** Floats of the GEMM work area gemmPackedBlock needs (one packed edge panel + one tile). */
// @ts-ignore: decorator
@inline function workFloats(): i32 {
  return GEMM_MR * GEMM_KC + GEMM_MR * GEMM_NR;
}

export function f32_conv2d_fwd_scratch(params: usize): i32 {
  const K = paramI32(params, 11) * paramI32(params, 12) * paramI32(params, 7);
  if (paramI32(params, 7) < SMALL_CIN) return fwdDirectScratchFloats(params) << 2;
  return (packedBFloats(K, paramI32(params, 10)) + CHUNK * K + workFloats()) << 2;
}

export function f32_conv2d_bwd_input_scratch(params: usize): i32 {
  const K = paramI32(params, 11) * paramI32(params, 12) * paramI32(params, 10);
  return (packedBFloats(K, paramI32(params, 7)) + CHUNK * K + workFloats()) << 2;
}

export function f32_conv2d_bwd_filter_scratch(params: usize): i32 {
  const K = paramI32(params, 11) * paramI32(params, 12) * paramI32(params, 7);
  if (paramI32(params, 7) < SMALL_CIN) return filterDirectScratchFloats(params) << 2;
  return (packedBFloats(CHUNK_FILTER, paramI32(params, 10)) + CHUNK_FILTER * K + workFloats()) << 2;
}

/** Copies n floats; short runs (MNIST conv1 copies 5 floats at a time) skip the bulk-memory call. */
// @ts-ignore: decorator
@inline function copyRun(dst: usize, src: usize, n: i32): void {
  if (n >= 16) {
    memory.copy(dst, src, <usize>n << 2);
    return;
  }
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

/** Writes n zero floats. */
// @ts-ignore: decorator
@inline function zeroRun(dst: usize, n: i32): void {
  if (n >= 16) {
    memory.fill(dst, 0, <usize>n << 2);
    return;
  }
  for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
}

/**
 * Gathers forward patches of pixels [p0, p0+count) (p = (n·OH + oh)·OW + ow) into rows of
 * K = KH·KW·Cin floats at dst, ordered (kh, kw, ci), zeros where the window leaves the image.
 */
function gatherForwardPatches(x: usize, p0: i32, count: i32, dst: usize,
                              H: i32, W: i32, Cin: i32, OH: i32, OW: i32,
                              KH: i32, KW: i32, s: i32, padTop: i32, padLeft: i32): void {
  const K = KH * KW * Cin;
  const rowFloats = KW * Cin;
  for (let i = 0; i < count; i++) {
    const p = p0 + i;
    const ow = p % OW, t = p / OW;
    const oh = t % OH, n = t / OH;
    const iw0 = ow * s - padLeft;
    const kwLo = max(0, -iw0), kwHi = min(KW, W - iw0);
    const out = dst + ((<usize>i * K) << 2);
    for (let kh = 0; kh < KH; kh++) {
      const ih = oh * s + kh - padTop;
      const row = out + ((<usize>kh * rowFloats) << 2);
      if (ih < 0 || ih >= H || kwLo >= kwHi) {
        zeroRun(row, rowFloats);
        continue;
      }
      if (kwLo > 0) zeroRun(row, kwLo * Cin);
      // The valid taps kw ∈ [kwLo, kwHi) read one contiguous run of x.
      const src = x + ((<usize>((n * H + ih) * W + iw0 + kwLo) * Cin) << 2);
      copyRun(row + ((<usize>kwLo * Cin) << 2), src, (kwHi - kwLo) * Cin);
      if (kwHi < KW) zeroRun(row + ((<usize>kwHi * Cin) << 2), (KW - kwHi) * Cin);
    }
  }
}

/**
 * Gathers backward-to-input patches of input pixels [q0, q0+count) (q = (n·H + ih)·W + iw) into
 * rows of K = KH·KW·Cout floats ordered (kh, kw, co): dy[n, oh, ow, :] where oh·s = ih + padTop − kh
 * and ow·s = iw + padLeft − kw have exact in-range solutions, zeros elsewhere.
 */
function gatherBackwardPatches(dy: usize, q0: i32, count: i32, dst: usize,
                               H: i32, W: i32, OH: i32, OW: i32, Cout: i32,
                               KH: i32, KW: i32, s: i32, padTop: i32, padLeft: i32): void {
  const K = KH * KW * Cout;
  const runBytes = <usize>Cout << 2;
  for (let i = 0; i < count; i++) {
    const q = q0 + i;
    const iw = q % W, t = q / W;
    const ih = t % H, n = t / H;
    let out = dst + ((<usize>i * K) << 2);
    for (let kh = 0; kh < KH; kh++) {
      const ohs = ih + padTop - kh;
      const rowOk = ohs >= 0 && ohs % s == 0 && ohs / s < OH;
      const dyRow = dy + ((<usize>((n * OH + (rowOk ? ohs / s : 0)) * OW) * Cout) << 2);
      for (let kw = 0; kw < KW; kw++) {
        const ows = iw + padLeft - kw;
        if (rowOk && ows >= 0 && ows % s == 0 && ows / s < OW) {
          copyRun(out, dyRow + ((<usize>(ows / s) * Cout) << 2), Cout);
        } else {
          zeroRun(out, Cout);
        }
        out += runBytes;
      }
    }
  }
}

/**
 * Packs w' for bwd_input: rows k = (kh, kw, co) in [pc, pc+kc), columns ci, w'[k][ci] =
 * w[kh, kw, ci, co], in panels of GEMM_NR columns (the layout packB produces).
 */
function packFilterTransposed(w: usize, Cin: i32, Cout: i32, pc: i32, kc: i32, dst: usize): void {
  for (let jp = 0; jp < Cin; jp += GEMM_NR) {
    const panel = dst + ((<usize>jp * kc) << 2);
    for (let k = 0; k < kc; k++) {
      const tap = (pc + k) / Cout, co = (pc + k) % Cout;
      const out = panel + (<usize>k << 5);
      for (let jj = 0; jj < GEMM_NR; jj++) {
        const ci = jp + jj;
        const v: f32 = ci < Cin ? load<f32>(w + ((<usize>(tap * Cin + ci) * Cout + co) << 2)) : 0;
        store<f32>(out + (<usize>jj << 2), v);
      }
    }
  }
}

/** y rows [r0, r0+rows) of width C: y = act(y + bias). */
function biasReluRows(y: usize, rows: i32, C: i32, bias: usize, relu: bool): void {
  const vzero = f32x4.splat(0);
  for (let r = 0; r < rows; r++) {
    const row = y + ((<usize>r * C) << 2);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      let v = v128.load(row + (<usize>c << 2));
      if (bias) v = f32x4.add(v, v128.load(bias + (<usize>c << 2)));
      if (relu) v = f32x4.max(v, vzero);
      v128.store(row + (<usize>c << 2), v);
    }
    for (; c < C; c++) {
      let v = load<f32>(row + (<usize>c << 2));
      if (bias) v += load<f32>(bias + (<usize>c << 2));
      if (relu) v = max<f32>(v, 0);
      store<f32>(row + (<usize>c << 2), v);
    }
  }
}

/**
 * C (count × N, row-major) = patches (count × K) · the filter packed per KC block in `packed`
 * (panels of roundUp(N, GEMM_NR) floats per row of K): the GEMM of the implicit-GEMM fwd and bwd_input.
 */
function multiplyPatches(patches: usize, count: i32, K: i32, packed: usize, N: i32, c: usize, work: usize): void {
  const panelsFloats = roundUp(N, GEMM_NR);
  for (let pc = 0; pc < K; pc += GEMM_KC) {
    gemmPackedBlock(patches, K, 0, 0, count, pc, min(GEMM_KC, K - pc), packed + ((<usize>pc * panelsFloats) << 2), N, c, N, pc == 0, work);
  }
  if (K == 0) memory.fill(c, 0, <usize>(count * N) << 2);
}

export function f32_conv2d_fwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  assert(0 <= begin && begin <= end && end <= paramI32(params, 4) * paramI32(params, 8), "f32_conv2d_fwd: range outside the split index");
  const x = paramPtr(params, 0), w = paramPtr(params, 1), bias = paramPtr(params, 2), y = paramPtr(params, 3);
  const H = paramI32(params, 5), W = paramI32(params, 6), Cin = paramI32(params, 7);
  const OH = paramI32(params, 8), OW = paramI32(params, 9), Cout = paramI32(params, 10);
  const KH = paramI32(params, 11), KW = paramI32(params, 12), s = paramI32(params, 13);
  const padTop = paramI32(params, 14), padLeft = paramI32(params, 15), relu = (paramI32(params, 16) & FLAG_RELU) != 0;
  if (begin >= end) return;
  if (Cin < SMALL_CIN) {
    fwdDirect(x, w, bias, y, begin, end, H, W, Cin, OH, OW, Cout, KH, KW, s, padTop, padLeft, relu, scratch);
    return;
  }
  const K = KH * KW * Cin;
  const panelsFloats = roundUp(Cout, GEMM_NR);
  const packed = scratch;
  const patches = packed + ((<usize>packedBFloats(K, Cout)) << 2);
  const work = patches + ((<usize>CHUNK * K) << 2);
  // Pack the whole filter once per call, one packB block per KC slice of K.
  for (let pc = 0; pc < K; pc += GEMM_KC) {
    packB(w, Cout, 0, pc, min(GEMM_KC, K - pc), 0, Cout, packed + ((<usize>pc * panelsFloats) << 2));
  }
  const pEnd = end * OW;
  for (let p0 = begin * OW; p0 < pEnd; p0 += CHUNK) {
    const count = min(CHUNK, pEnd - p0);
    gatherForwardPatches(x, p0, count, patches, H, W, Cin, OH, OW, KH, KW, s, padTop, padLeft);
    const c = y + ((<usize>p0 * Cout) << 2);
    multiplyPatches(patches, count, K, packed, Cout, c, work);
    if (bias || relu) biasReluRows(c, count, Cout, bias, relu);
  }
}

export function f32_conv2d_bwd_input__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  assert(0 <= begin && begin <= end && end <= paramI32(params, 4) * paramI32(params, 5), "f32_conv2d_bwd_input: range outside the split index");
  const dx = paramPtr(params, 0), w = paramPtr(params, 1), dy = paramPtr(params, 3);
  const H = paramI32(params, 5), W = paramI32(params, 6), Cin = paramI32(params, 7);
  const OH = paramI32(params, 8), OW = paramI32(params, 9), Cout = paramI32(params, 10);
  const KH = paramI32(params, 11), KW = paramI32(params, 12), s = paramI32(params, 13);
  const padTop = paramI32(params, 14), padLeft = paramI32(params, 15);
  if (begin >= end) return;
  if (Cin < SMALL_CIN) {
    bwdInputDirect(dx, w, dy, begin, end, H, W, Cin, OH, OW, Cout, KH, KW, s, padTop, padLeft);
    return;
  }
  const K = KH * KW * Cout;
  const panelsFloats = roundUp(Cin, GEMM_NR);
  const packed = scratch;
  const patches = packed + ((<usize>packedBFloats(K, Cin)) << 2);
  const work = patches + ((<usize>CHUNK * K) << 2);
  for (let pc = 0; pc < K; pc += GEMM_KC) {
    packFilterTransposed(w, Cin, Cout, pc, min(GEMM_KC, K - pc), packed + ((<usize>pc * panelsFloats) << 2));
  }
  const qEnd = end * W;
  for (let q0 = begin * W; q0 < qEnd; q0 += CHUNK) {
    const count = min(CHUNK, qEnd - q0);
    gatherBackwardPatches(dy, q0, count, patches, H, W, OH, OW, Cout, KH, KW, s, padTop, padLeft);
    multiplyPatches(patches, count, K, packed, Cin, dx + ((<usize>q0 * Cin) << 2), work);
  }
}

/**
 * bwd_input for few input channels (MNIST's conv1 has Cin = 1), where the GEMM's 8-wide column
 * panels would be mostly padding: for each input pixel and channel, sum over the valid taps the
 * dot product of dy's pixel vector with the filter's (tap, ci) row, SIMD over Cout.
 */
function bwdInputDirect(dx: usize, w: usize, dy: usize, begin: i32, end: i32,
                        H: i32, W: i32, Cin: i32, OH: i32, OW: i32, Cout: i32,
                        KH: i32, KW: i32, s: i32, padTop: i32, padLeft: i32): void {
  for (let r = begin; r < end; r++) {
    const n = r / H, ih = r % H;
    for (let iw = 0; iw < W; iw++) {
      // Stride 1, four pixels whose every tap lands inside dy's row: share each filter load.
      if (s == 1 && iw + 4 <= W && iw + padLeft - (KW - 1) >= 0 && iw + 3 + padLeft < OW && (Cout & 3) == 0) {
        bwdInputDirect4(dx, w, dy, n, r, ih, iw, W, Cin, OH, OW, Cout, KH, KW, padTop, padLeft);
        iw += 3;
        continue;
      }
      for (let ci = 0; ci < Cin; ci++) {
        let vacc = f32x4.splat(0);
        let tail: f32 = 0;
        for (let kh = 0; kh < KH; kh++) {
          const ohs = ih + padTop - kh;
          if (ohs < 0 || ohs % s != 0 || ohs / s >= OH) continue;
          for (let kw = 0; kw < KW; kw++) {
            const ows = iw + padLeft - kw;
            if (ows < 0 || ows % s != 0 || ows / s >= OW) continue;
            const g = dy + ((<usize>((n * OH + ohs / s) * OW + ows / s) * Cout) << 2);
            const f = w + ((<usize>((kh * KW + kw) * Cin + ci) * Cout) << 2);
            let co = 0;
            for (; co + 4 <= Cout; co += 4) vacc = madd(v128.load(g + (<usize>co << 2)), v128.load(f + (<usize>co << 2)), vacc);
            for (; co < Cout; co++) tail += load<f32>(g + (<usize>co << 2)) * load<f32>(f + (<usize>co << 2));
          }
        }
        store<f32>(dx + ((<usize>(r * W + iw) * Cin + ci) << 2), hsum(vacc) + tail);
      }
    }
  }
}

/** bwdInputDirect for input pixels iw..iw+3 of row r (stride 1, all taps inside dy's row, Cout % 4 == 0). */
// @ts-ignore: decorator
@inline function bwdInputDirect4(dx: usize, w: usize, dy: usize, n: i32, r: i32, ih: i32, iw: i32,
                                 W: i32, Cin: i32, OH: i32, OW: i32, Cout: i32, KH: i32, KW: i32, padTop: i32, padLeft: i32): void {
  const pixelBytes = <usize>Cout << 2;
  for (let ci = 0; ci < Cin; ci++) {
    let v0 = f32x4.splat(0), v1 = f32x4.splat(0), v2 = f32x4.splat(0), v3 = f32x4.splat(0);
    for (let kh = 0; kh < KH; kh++) {
      const oh = ih + padTop - kh;
      if (oh < 0 || oh >= OH) continue;
      for (let kw = 0; kw < KW; kw++) {
        // Pixels iw..iw+3 read dy at output columns ow..ow+3: four consecutive dy pixel vectors.
        const g = dy + ((<usize>((n * OH + oh) * OW + iw + padLeft - kw) * Cout) << 2);
        const f = w + ((<usize>((kh * KW + kw) * Cin + ci) * Cout) << 2);
        for (let co = 0; co < Cout; co += 4) {
          const off = <usize>co << 2;
          const vf = v128.load(f + off);
          v0 = madd(v128.load(g + off), vf, v0);
          v1 = madd(v128.load(g + pixelBytes + off), vf, v1);
          v2 = madd(v128.load(g + 2 * pixelBytes + off), vf, v2);
          v3 = madd(v128.load(g + 3 * pixelBytes + off), vf, v3);
        }
      }
    }
    const out = dx + ((<usize>(r * W + iw) * Cin + ci) << 2);
    const cinBytes = <usize>Cin << 2;
    store<f32>(out, hsum(v0));
    store<f32>(out + cinBytes, hsum(v1));
    store<f32>(out + 2 * cinBytes, hsum(v2));
    store<f32>(out + 3 * cinBytes, hsum(v3));
  }
}

export function f32_conv2d_bwd_filter__simd(params: usize, begin: i32, end: i32, scratch: usize, partial: usize): void {
  assert(0 <= begin && begin <= end && end <= paramI32(params, 4), "f32_conv2d_bwd_filter: range outside the split index");
  const x = paramPtr(params, 0), dy = paramPtr(params, 3);
  const H = paramI32(params, 5), W = paramI32(params, 6), Cin = paramI32(params, 7);
  const OH = paramI32(params, 8), OW = paramI32(params, 9), Cout = paramI32(params, 10);
  const KH = paramI32(params, 11), KW = paramI32(params, 12), s = paramI32(params, 13);
  const padTop = paramI32(params, 14), padLeft = paramI32(params, 15);
  if (Cin < SMALL_CIN) {
    filterDirect(x, dy, partial, begin, end, H, W, Cin, OH, OW, Cout, KH, KW, s, padTop, padLeft, scratch);
    return;
  }
  const K = KH * KW * Cin;
  const packedDy = scratch;
  const patches = packedDy + ((<usize>packedBFloats(CHUNK_FILTER, Cout)) << 2);
  const work = patches + ((<usize>CHUNK_FILTER * K) << 2);
  const pEnd = end * OH * OW;
  let first = true;
  for (let p0 = begin * OH * OW; p0 < pEnd; p0 += CHUNK_FILTER) {
    const count = min(CHUNK_FILTER, pEnd - p0);
    gatherForwardPatches(x, p0, count, patches, H, W, Cin, OH, OW, KH, KW, s, padTop, padLeft);
    packB(dy + ((<usize>p0 * Cout) << 2), Cout, 0, 0, count, 0, Cout, packedDy);
    // dw (K × Cout) (+)= patchesᵀ (K × count) · dy chunk (count × Cout).
    gemmPackedBlock(patches, K, 1, 0, K, 0, count, packedDy, Cout, partial, Cout, first, work);
    first = false;
  }
  if (first) memory.fill(partial, 0, <usize>(K * Cout) << 2);
}

// ---------------------------------------------------------------------------------------------
// SIMD: direct paths for few input channels (Cin < SMALL_CIN, e.g. MNIST conv1)
// ---------------------------------------------------------------------------------------------

/** Output rows per chunk of the direct bwd_filter: about GEMM_KC pixels. */
// @ts-ignore: decorator
@inline function filterChunkRows(OH: i32, OW: i32): i32 {
  return max(1, min(OH, GEMM_KC / OW));
}

/** Width (pixels) of fwdDirect's zero-padded input rows: the windows of roundUp(OW, 4) output pixels. */
// @ts-ignore: decorator
@inline function fwdPaddedWidth(OW: i32, KW: i32, s: i32): i32 {
  return (roundUp(OW, 4) - 1) * s + KW;
}

/** fwdDirect's scratch: packed filter (K × roundUp(Cout, GEMM_NR)), padded bias, K tap offsets, KH padded input rows. */
function fwdDirectScratchFloats(params: usize): i32 {
  const Cin = paramI32(params, 7), OW = paramI32(params, 9), Cout = paramI32(params, 10);
  const KH = paramI32(params, 11), KW = paramI32(params, 12), s = paramI32(params, 13);
  const CP = roundUp(Cout, GEMM_NR);
  return KH * KW * Cin * (CP + 1) + CP + KH * fwdPaddedWidth(OW, KW, s) * Cin;
}

/** filterDirect's scratch: dw accumulator (roundUp(K, 4) × roundUp(Cout, GEMM_NR)), packed dy chunk, padded input rows. */
function filterDirectScratchFloats(params: usize): i32 {
  const Cin = paramI32(params, 7), OH = paramI32(params, 8), OW = paramI32(params, 9), Cout = paramI32(params, 10);
  const KH = paramI32(params, 11), KW = paramI32(params, 12), s = paramI32(params, 13);
  const CP = roundUp(Cout, GEMM_NR), rows = filterChunkRows(OH, OW);
  const K4 = roundUp(KH * KW * Cin, 4);
  return K4 * CP + rows * OW * CP + ((rows - 1) * s + KH) * ((OW - 1) * s + KW) * Cin;
}

/**
 * Copies input rows ih0 .. ih0+nRows−1 of image xImg into nRows rows of Wp·Cin floats at dst,
 * padded column j holding input column j − padLeft; zeros outside the image.
 */
function padInputRows(xImg: usize, ih0: i32, nRows: i32, H: i32, W: i32, Cin: i32, Wp: i32, padLeft: i32, dst: usize): void {
  const jLo = min(Wp, padLeft), jHi = max(jLo, min(Wp, padLeft + W));
  for (let i = 0; i < nRows; i++) {
    const ih = ih0 + i;
    const row = dst + ((<usize>i * Wp * Cin) << 2);
    if (ih < 0 || ih >= H) {
      zeroRun(row, Wp * Cin);
      continue;
    }
    zeroRun(row, jLo * Cin);
    copyRun(row + ((<usize>jLo * Cin) << 2), xImg + ((<usize>(ih * W + jLo - padLeft) * Cin) << 2), (jHi - jLo) * Cin);
    zeroRun(row + ((<usize>jHi * Cin) << 2), (Wp - jHi) * Cin);
  }
}

/** Stores the first nCo (≥ 1) of the eight columns v0 ‖ v1 at dst. */
// @ts-ignore: decorator
@inline function storeCols(dst: usize, v0: v128, v1: v128, nCo: i32): void {
  if (nCo >= 8) {
    v128.store(dst, v0);
    v128.store(dst, v1, 16);
    return;
  }
  storeLanes(dst, v0, min(nCo, 4));
  storeLanes(dst + 16, v1, nCo - 4);
}

/**
 * Forward for few input channels, without im2col: per output row, the KH input rows it reads are
 * copied zero-padded into scratch (every tap then valid), and 4 pixels × 8 channels tiles sum
 * x · w over the taps (kh, kw, ci) in the scalar order, the filter packed in panels of 8 channels
 * (zeros past Cout) and each tap's offset in the padded rows read from a table. Pixels past OW
 * (the last tile) read padding and are not stored.
 */
function fwdDirect(x: usize, w: usize, bias: usize, y: usize, begin: i32, end: i32,
                   H: i32, W: i32, Cin: i32, OH: i32, OW: i32, Cout: i32,
                   KH: i32, KW: i32, s: i32, padTop: i32, padLeft: i32, relu: bool, scratch: usize): void {
  const K = KH * KW * Cin, CP = roundUp(Cout, GEMM_NR), Wp = fwdPaddedWidth(OW, KW, s);
  const packed = scratch;
  const biasP = packed + ((<usize>K * CP) << 2);
  const offs = biasP + (<usize>CP << 2);
  const pad = offs + (<usize>K << 2);
  packB(w, Cout, 0, 0, K, 0, Cout, packed);
  for (let t = 0; t < K; t++) store<u32>(offs + (<usize>t << 2), <u32>tapOffset(t, K, KW, Cin, Wp));
  for (let c = 0; c < CP; c++) store<f32>(biasP + (<usize>c << 2), bias && c < Cout ? load<f32>(bias + (<usize>c << 2)) : 0);
  const pixStep = <usize>(s * Cin) << 2, pixelBytes = <usize>Cout << 2;
  for (let r = begin; r < end; r++) {
    const n = r / OH, oh = r % OH;
    padInputRows(x + ((<usize>n * H * W * Cin) << 2), oh * s - padTop, KH, H, W, Cin, Wp, padLeft, pad);
    const yRow = y + ((<usize>r * OW * Cout) << 2);
    for (let co = 0; co < Cout; co += GEMM_NR) {
      const panel = packed + ((<usize>co * K) << 2);
      const nCo = min(GEMM_NR, Cout - co);
      const vb0 = v128.load(biasP + (<usize>co << 2)), vb1 = v128.load(biasP + (<usize>co << 2), 16);
      for (let ow = 0; ow < OW; ow += 4) {
        fwdTile4x8(pad + <usize>ow * pixStep, pixStep, offs, K, panel,
                   yRow + ((<usize>(ow * Cout + co)) << 2), pixelBytes, min(4, OW - ow), nCo, vb0, vb1, relu);
      }
    }
  }
}

/** y tile of pixels ow..ow+nPix−1 × channels co..co+nCo−1: act(bias + Σ_{kh, kw, ci} x · w); a = pixel ow's window. */
// @ts-ignore: decorator
@inline function fwdTile4x8(a: usize, pixStep: usize, offs: usize, K: i32, b: usize,
                            out: usize, pixelBytes: usize, nPix: i32, nCo: i32, vb0: v128, vb1: v128, relu: bool): void {
  let vc00 = f32x4.splat(0), vc01 = f32x4.splat(0);
  let vc10 = f32x4.splat(0), vc11 = f32x4.splat(0);
  let vc20 = f32x4.splat(0), vc21 = f32x4.splat(0);
  let vc30 = f32x4.splat(0), vc31 = f32x4.splat(0);
  const offEnd = offs + (<usize>K << 2);
  for (let o = offs; o < offEnd; o += 4) {
    const a0 = a + <usize>load<u32>(o);
    const w0 = v128.load(b), w1 = v128.load(b, 16);
    const va0 = v128.load32_splat(a0);
    vc00 = madd(va0, w0, vc00);
    vc01 = madd(va0, w1, vc01);
    const va1 = v128.load32_splat(a0 + pixStep);
    vc10 = madd(va1, w0, vc10);
    vc11 = madd(va1, w1, vc11);
    const va2 = v128.load32_splat(a0 + 2 * pixStep);
    vc20 = madd(va2, w0, vc20);
    vc21 = madd(va2, w1, vc21);
    const va3 = v128.load32_splat(a0 + 3 * pixStep);
    vc30 = madd(va3, w0, vc30);
    vc31 = madd(va3, w1, vc31);
    b += 32;
  }
  vc00 = f32x4.add(vc00, vb0); vc01 = f32x4.add(vc01, vb1);
  vc10 = f32x4.add(vc10, vb0); vc11 = f32x4.add(vc11, vb1);
  vc20 = f32x4.add(vc20, vb0); vc21 = f32x4.add(vc21, vb1);
  vc30 = f32x4.add(vc30, vb0); vc31 = f32x4.add(vc31, vb1);
  if (relu) {
    const z = f32x4.splat(0);
    vc00 = f32x4.max(vc00, z); vc01 = f32x4.max(vc01, z);
    vc10 = f32x4.max(vc10, z); vc11 = f32x4.max(vc11, z);
    vc20 = f32x4.max(vc20, z); vc21 = f32x4.max(vc21, z);
    vc30 = f32x4.max(vc30, z); vc31 = f32x4.max(vc31, z);
  }
  storeCols(out, vc00, vc01, nCo);
  if (nPix > 1) storeCols(out + pixelBytes, vc10, vc11, nCo);
  if (nPix > 2) storeCols(out + 2 * pixelBytes, vc20, vc21, nCo);
  if (nPix > 3) storeCols(out + 3 * pixelBytes, vc30, vc31, nCo);
}

/**
 * bwd_filter for few input channels: dw[(kh,kw,ci), co] = Σ_{n,oh,ow} x[n, oh·s+kh−padTop, ow·s+kw−padLeft, ci]
 * · dy[n, oh, ow, co]. Per chunk of output rows of one image, the input rows it reads are copied
 * zero-padded and dy is packed in panels of 8 channels; 4 taps × 8 channels tiles accumulate
 * over the chunk's pixels into a padded dw in scratch, so each element sums pixels in the
 * scalar order (n, oh, ow). The padded dw is copied to `partial` at the end.
 */
function filterDirect(x: usize, dy: usize, partial: usize, begin: i32, end: i32,
                      H: i32, W: i32, Cin: i32, OH: i32, OW: i32, Cout: i32,
                      KH: i32, KW: i32, s: i32, padTop: i32, padLeft: i32, scratch: usize): void {
  const K = KH * KW * Cin, K4 = roundUp(K, 4), CP = roundUp(Cout, GEMM_NR);
  const chunkRows = filterChunkRows(OH, OW), Wp = (OW - 1) * s + KW;
  const acc = scratch;
  const packedDy = acc + ((<usize>K4 * CP) << 2);
  const pad = packedDy + ((<usize>chunkRows * OW * CP) << 2);
  memory.fill(acc, 0, (<usize>K4 * CP) << 2);
  const pixStep = <usize>(s * Cin) << 2, rowStep = <usize>(s * Wp * Cin) << 2;
  for (let n = begin; n < end; n++) {
    for (let oh0 = 0; oh0 < OH; oh0 += chunkRows) {
      const rows = min(chunkRows, OH - oh0), pixels = rows * OW;
      padInputRows(x + ((<usize>n * H * W * Cin) << 2), oh0 * s - padTop, (rows - 1) * s + KH, H, W, Cin, Wp, padLeft, pad);
      packB(dy + ((<usize>(n * OH + oh0) * OW * Cout) << 2), Cout, 0, 0, pixels, 0, Cout, packedDy);
      for (let t = 0; t < K4; t += 4) {
        // Offsets of taps t..t+3 from a pixel's window corner; taps past K reuse tap 0 (rows discarded).
        const o0 = tapOffset(t, K, KW, Cin, Wp), o1 = tapOffset(t + 1, K, KW, Cin, Wp);
        const o2 = tapOffset(t + 2, K, KW, Cin, Wp), o3 = tapOffset(t + 3, K, KW, Cin, Wp);
        for (let co = 0; co < CP; co += GEMM_NR) {
          filterTile4x8(pad, o0, o1, o2, o3, pixStep, rowStep, rows, OW, packedDy + ((<usize>co * pixels) << 2),
                        acc + ((<usize>(t * CP + co)) << 2), <usize>CP << 2);
        }
      }
    }
  }
  if (CP == Cout) {
    memory.copy(partial, acc, (<usize>K * Cout) << 2);
  } else {
    for (let t = 0; t < K; t++) memory.copy(partial + ((<usize>t * Cout) << 2), acc + ((<usize>t * CP) << 2), <usize>Cout << 2);
  }
}

/** Byte offset of tap t = (kh, kw, ci) in padded rows of Wp·Cin floats; tap 0 for t ≥ K. */
// @ts-ignore: decorator
@inline function tapOffset(t: i32, K: i32, KW: i32, Cin: i32, Wp: i32): usize {
  if (t >= K) return 0;
  const ci = t % Cin, kw = (t / Cin) % KW, kh = t / (Cin * KW);
  return <usize>((kh * Wp + kw) * Cin + ci) << 2;
}

/** acc rows t..t+3 × 8 channels (row stride accStride bytes) += Σ over the chunk's pixels of x(tap) ⊗ dy panel. */
// @ts-ignore: decorator
@inline function filterTile4x8(pad: usize, o0: usize, o1: usize, o2: usize, o3: usize, pixStep: usize, rowStep: usize,
                               rows: i32, OW: i32, d: usize, acc: usize, accStride: usize): void {
  const acc1 = acc + accStride, acc2 = acc1 + accStride, acc3 = acc2 + accStride;
  let vc00 = v128.load(acc), vc01 = v128.load(acc, 16);
  let vc10 = v128.load(acc1), vc11 = v128.load(acc1, 16);
  let vc20 = v128.load(acc2), vc21 = v128.load(acc2, 16);
  let vc30 = v128.load(acc3), vc31 = v128.load(acc3, 16);
  for (let r = 0; r < rows; r++) {
    let a = pad + <usize>r * rowStep;
    for (let ow = 0; ow < OW; ow++) {
      const d0 = v128.load(d), d1 = v128.load(d, 16);
      const va0 = v128.load32_splat(a + o0);
      vc00 = madd(va0, d0, vc00);
      vc01 = madd(va0, d1, vc01);
      const va1 = v128.load32_splat(a + o1);
      vc10 = madd(va1, d0, vc10);
      vc11 = madd(va1, d1, vc11);
      const va2 = v128.load32_splat(a + o2);
      vc20 = madd(va2, d0, vc20);
      vc21 = madd(va2, d1, vc21);
      const va3 = v128.load32_splat(a + o3);
      vc30 = madd(va3, d0, vc30);
      vc31 = madd(va3, d1, vc31);
      a += pixStep;
      d += 32;
    }
  }
  v128.store(acc, vc00); v128.store(acc, vc01, 16);
  v128.store(acc1, vc10); v128.store(acc1, vc11, 16);
  v128.store(acc2, vc20); v128.store(acc2, vc21, 16);
  v128.store(acc3, vc30); v128.store(acc3, vc31, 16);
}
