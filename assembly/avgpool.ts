// Average pooling (rectangular windows, strides, symmetric zero padding), forward and backward;
// global average pooling is the window H × W; and general max pooling (below). Used by ONNX models
// (AveragePool, GlobalAveragePool, MaxPool other than 2×2 stride 2, which assembly/pool.ts runs).
//
// Buffers (f32, NHWC):
//   x, dx: (N, H, W, C)      y, dy: (N, OH, OW, C),  OH = floor((H + 2·PH − KH) / SH) + 1 (OW alike).
// Parameter block (i32 fields, see src/kernels/avgpool.ts), both passes:
//   0 N, 1 H, 2 W, 3 C, 4 KH, 5 KW, 6 SH, 7 SW, 8 PH, 9 PW, 10 OH, 11 OW, 12 x|dy, 13 y|dx, 14 flags.
//   flags bit 1: count_include_pad: every window divides by KH·KW; otherwise by the number of its
//   taps inside the image (ONNX's default, PyTorch's count_include_pad=False).
// Semantics: y[n,oh,ow,c] = (Σ taps in the image, row-major order) / divisor. Backward in gather
//   form: dx[n,h,w,c] = Σ over the windows containing (h, w), oh then ow ascending, of
//   dy[n,oh,ow,c] / divisor(oh, ow); every dx entry is written (0 where no window reaches).
// Variants: __scalar is the readable reference; __simd runs f32x4 across channels with a scalar
//   tail; both do the same f32 operations in the same order per channel: bit-identical.
// Threading contract: forward splits output rows r = n·OH + oh; backward splits dx rows
//   r = n·H + h. Each part writes only its rows: no overlap. Scratch: none.
import { paramI32, paramPtr } from "./simd";

const FLAG_INCLUDE_PAD: i32 = 2;

/** The divisor of window (oh, ow): KH·KW with count_include_pad, else its taps inside the image. */
// @ts-ignore: decorator
@inline function divisor(params: usize, oh: i32, ow: i32): f32 {
  const H = paramI32(params, 1), W = paramI32(params, 2), KH = paramI32(params, 4), KW = paramI32(params, 5);
  if ((paramI32(params, 14) & FLAG_INCLUDE_PAD) != 0) return <f32>(KH * KW);
  const h0 = oh * paramI32(params, 6) - paramI32(params, 8), w0 = ow * paramI32(params, 7) - paramI32(params, 9);
  const rows = min(h0 + KH, H) - max(h0, 0), cols = min(w0 + KW, W) - max(w0, 0);
  return <f32>(rows * cols);
}

/** First and one-past-last output index whose window [o·S − P, o·S − P + K) contains i. */
// @ts-ignore: decorator
@inline function windowsLo(i: i32, K: i32, S: i32, P: i32): i32 {
  const t = i + P - K + 1; // o·S ≥ t
  return t <= 0 ? 0 : (t + S - 1) / S;
}
// @ts-ignore: decorator
@inline function windowsHi(i: i32, S: i32, P: i32, O: i32): i32 {
  return min((i + P) / S + 1, O); // o·S ≤ i + P
}

// Per-channel bodies shared by the scalar kernels and the SIMD kernels' channel tails (geometry read
// from the parameter block; x/y/dy pointers as in the kernels).

/** The mean of window (oh, ow) of channel c. */
// @ts-ignore: decorator
@inline function avgTap(params: usize, x: usize, n: i32, oh: i32, ow: i32, c: i32): f32 {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const KH = paramI32(params, 4), KW = paramI32(params, 5), SH = paramI32(params, 6), SW = paramI32(params, 7), PH = paramI32(params, 8), PW = paramI32(params, 9);
  let sum: f32 = 0;
  for (let ky = 0; ky < KH; ky++) {
    const h = oh * SH - PH + ky;
    if (h < 0 || h >= H) continue;
    for (let kx = 0; kx < KW; kx++) {
      const w = ow * SW - PW + kx;
      if (w < 0 || w >= W) continue;
      sum += load<f32>(x + ((((<usize>n * H + h) * W + w) * C + c) << 2));
    }
  }
  return sum / divisor(params, oh, ow);
}

/** dx[n, h, w, c] of average pooling: Σ over the windows containing (h, w) of dy / divisor. */
// @ts-ignore: decorator
@inline function avgGather(params: usize, dy: usize, n: i32, h: i32, w: i32, c: i32): f32 {
  const C = paramI32(params, 3), KH = paramI32(params, 4), KW = paramI32(params, 5), SH = paramI32(params, 6), SW = paramI32(params, 7);
  const PH = paramI32(params, 8), PW = paramI32(params, 9), OH = paramI32(params, 10), OW = paramI32(params, 11);
  const ohHi = windowsHi(h, SH, PH, OH), owLo = windowsLo(w, KW, SW, PW), owHi = windowsHi(w, SW, PW, OW);
  let sum: f32 = 0;
  for (let oh = windowsLo(h, KH, SH, PH); oh < ohHi; oh++) {
    for (let ow = owLo; ow < owHi; ow++) sum += load<f32>(dy + ((((<usize>n * OH + oh) * OW + ow) * C + c) << 2)) / divisor(params, oh, ow);
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Scalar reference
// ---------------------------------------------------------------------------------------------

export function f32_avgpool2d_fwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const C = paramI32(params, 3), OH = paramI32(params, 10), OW = paramI32(params, 11);
  const a = paramPtr(params, 12), b = paramPtr(params, 13);
  for (let r = begin; r < end; r++) {
    const n = r / OH, oh = r % OH;
    for (let ow = 0; ow < OW; ow++) {
      for (let c = 0; c < C; c++) store<f32>(b + ((((<usize>r * OW + ow) * C) + c) << 2), avgTap(params, a, n, oh, ow, c));
    }
  }
}

export function f32_avgpool2d_bwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const a = paramPtr(params, 12), b = paramPtr(params, 13);
  for (let r = begin; r < end; r++) {
    const n = r / H, h = r % H;
    for (let w = 0; w < W; w++) {
      for (let c = 0; c < C; c++) store<f32>(b + ((((<usize>r * W + w) * C) + c) << 2), avgGather(params, a, n, h, w, c));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SIMD across channels
// ---------------------------------------------------------------------------------------------

export function f32_avgpool2d_fwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const KH = paramI32(params, 4), KW = paramI32(params, 5), SH = paramI32(params, 6), SW = paramI32(params, 7);
  const PH = paramI32(params, 8), PW = paramI32(params, 9), OH = paramI32(params, 10), OW = paramI32(params, 11);
  const a = paramPtr(params, 12), b = paramPtr(params, 13);
  for (let r = begin; r < end; r++) {
    const n = r / OH, oh = r % OH;
    for (let ow = 0; ow < OW; ow++) {
      const div = divisor(params, oh, ow), vdiv = f32x4.splat(div);
      const out = b + ((((<usize>r * OW + ow) * C)) << 2);
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        let sum = f32x4.splat(0);
        for (let ky = 0; ky < KH; ky++) {
          const h = oh * SH - PH + ky;
          if (h < 0 || h >= H) continue;
          for (let kx = 0; kx < KW; kx++) {
            const w = ow * SW - PW + kx;
            if (w < 0 || w >= W) continue;
            sum = f32x4.add(sum, v128.load(a + ((((<usize>n * H + h) * W + w) * C + c) << 2)));
          }
        }
        v128.store(out + (<usize>c << 2), f32x4.div(sum, vdiv));
      }
      for (; c < C; c++) store<f32>(out + (<usize>c << 2), avgTap(params, a, n, oh, ow, c));
    }
  }
}

export function f32_avgpool2d_bwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const KH = paramI32(params, 4), KW = paramI32(params, 5), SH = paramI32(params, 6), SW = paramI32(params, 7);
  const PH = paramI32(params, 8), PW = paramI32(params, 9), OH = paramI32(params, 10), OW = paramI32(params, 11);
  const a = paramPtr(params, 12), b = paramPtr(params, 13);
  for (let r = begin; r < end; r++) {
    const n = r / H, h = r % H;
    const ohLo = windowsLo(h, KH, SH, PH), ohHi = windowsHi(h, SH, PH, OH);
    for (let w = 0; w < W; w++) {
      const owLo = windowsLo(w, KW, SW, PW), owHi = windowsHi(w, SW, PW, OW);
      const out = b + ((((<usize>r * W + w) * C)) << 2);
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        let sum = f32x4.splat(0);
        for (let oh = ohLo; oh < ohHi; oh++) {
          for (let ow = owLo; ow < owHi; ow++) {
            const v = v128.load(a + ((((<usize>n * OH + oh) * OW + ow) * C + c) << 2));
            sum = f32x4.add(sum, f32x4.div(v, f32x4.splat(divisor(params, oh, ow))));
          }
        }
        v128.store(out + (<usize>c << 2), sum);
      }
      for (; c < C; c++) store<f32>(out + (<usize>c << 2), avgGather(params, a, n, h, w, c));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// General max pooling (any window, strides, symmetric padding that is never selected), the same
// parameter block with x and y (forward) or x, dy, dx (backward: 12 x, 13 dy, 14 dx, 15 flags).
//   Semantics: y = the max of the window's taps inside the image, scanned row-major; a tap
//   replaces the running max only when strictly greater, so ties and NaNs after the first tap
//   route the gradient to the FIRST max (as f32_maxpool2d). Backward in gather form: dx[h, w] =
//   Σ over the windows containing (h, w) whose max is at (h, w) of dy (every dx entry written).
//   Threading: forward splits output rows n·OH + oh, backward dx rows n·H + h.
// ---------------------------------------------------------------------------------------------

/** The first max of window (oh, ow) of channel c (strictly greater replaces). */
// @ts-ignore: decorator
@inline function maxTap(params: usize, x: usize, n: i32, oh: i32, ow: i32, c: i32): f32 {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const KH = paramI32(params, 4), KW = paramI32(params, 5), SH = paramI32(params, 6), SW = paramI32(params, 7), PH = paramI32(params, 8), PW = paramI32(params, 9);
  let best: f32 = 0, any = false;
  for (let ky = 0; ky < KH; ky++) {
    const h = oh * SH - PH + ky;
    if (h < 0 || h >= H) continue;
    for (let kx = 0; kx < KW; kx++) {
      const w = ow * SW - PW + kx;
      if (w < 0 || w >= W) continue;
      const v = load<f32>(x + ((((<usize>n * H + h) * W + w) * C + c) << 2));
      if (!any || v > best) best = v;
      any = true;
    }
  }
  return best;
}

/** dx[n, h, w, c] of max pooling: Σ over the windows containing (h, w) whose first max is there of dy. */
function maxGather(params: usize, x: usize, dy: usize, n: i32, h: i32, w: i32, c: i32): f32 {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const KH = paramI32(params, 4), KW = paramI32(params, 5), SH = paramI32(params, 6), SW = paramI32(params, 7);
  const PH = paramI32(params, 8), PW = paramI32(params, 9), OH = paramI32(params, 10), OW = paramI32(params, 11);
  const ohHi = windowsHi(h, SH, PH, OH), owLo = windowsLo(w, KW, SW, PW), owHi = windowsHi(w, SW, PW, OW);
  let sum: f32 = 0;
  for (let oh = windowsLo(h, KH, SH, PH); oh < ohHi; oh++) {
    for (let ow = owLo; ow < owHi; ow++) {
      const k = argmaxTap(x, n, oh, ow, c, H, W, C, KH, KW, SH, SW, PH, PW);
      if (k == (h - (oh * SH - PH)) * KW + (w - (ow * SW - PW))) sum += load<f32>(dy + ((((<usize>n * OH + oh) * OW + ow) * C + c) << 2));
    }
  }
  return sum;
}

export function f32_maxpool_fwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const C = paramI32(params, 3), OH = paramI32(params, 10), OW = paramI32(params, 11);
  const x = paramPtr(params, 12), y = paramPtr(params, 13);
  for (let r = begin; r < end; r++) {
    const n = r / OH, oh = r % OH;
    for (let ow = 0; ow < OW; ow++) {
      for (let c = 0; c < C; c++) store<f32>(y + ((((<usize>r * OW + ow) * C) + c) << 2), maxTap(params, x, n, oh, ow, c));
    }
  }
}

/** Row-major tap index (ky·KW + kx) of the first max of window (oh, ow), channel c. */
function argmaxTap(x: usize, n: i32, oh: i32, ow: i32, c: i32, H: i32, W: i32, C: i32, KH: i32, KW: i32, SH: i32, SW: i32, PH: i32, PW: i32): i32 {
  let best: f32 = 0, bestK = -1;
  for (let ky = 0; ky < KH; ky++) {
    const h = oh * SH - PH + ky;
    if (h < 0 || h >= H) continue;
    for (let kx = 0; kx < KW; kx++) {
      const w = ow * SW - PW + kx;
      if (w < 0 || w >= W) continue;
      const v = load<f32>(x + ((((<usize>n * H + h) * W + w) * C + c) << 2));
      if (bestK < 0 || v > best) {
        best = v;
        bestK = ky * KW + kx;
      }
    }
  }
  return bestK;
}

export function f32_maxpool_bwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const x = paramPtr(params, 12), dy = paramPtr(params, 13), dx = paramPtr(params, 14);
  for (let r = begin; r < end; r++) {
    const n = r / H, h = r % H;
    for (let w = 0; w < W; w++) {
      for (let c = 0; c < C; c++) store<f32>(dx + ((((<usize>r * W + w) * C) + c) << 2), maxGather(params, x, dy, n, h, w, c));
    }
  }
}

export function f32_maxpool_fwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const KH = paramI32(params, 4), KW = paramI32(params, 5), SH = paramI32(params, 6), SW = paramI32(params, 7);
  const PH = paramI32(params, 8), PW = paramI32(params, 9), OH = paramI32(params, 10), OW = paramI32(params, 11);
  const x = paramPtr(params, 12), y = paramPtr(params, 13);
  for (let r = begin; r < end; r++) {
    const n = r / OH, oh = r % OH;
    for (let ow = 0; ow < OW; ow++) {
      const out = y + ((((<usize>r * OW + ow) * C)) << 2);
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        let best = f32x4.splat(0), any = false;
        for (let ky = 0; ky < KH; ky++) {
          const h = oh * SH - PH + ky;
          if (h < 0 || h >= H) continue;
          for (let kx = 0; kx < KW; kx++) {
            const w = ow * SW - PW + kx;
            if (w < 0 || w >= W) continue;
            const v = v128.load(x + ((((<usize>n * H + h) * W + w) * C + c) << 2));
            // Strictly greater replaces, as the scalar twin (NaN never does after the first tap).
            best = any ? v128.bitselect(v, best, f32x4.gt(v, best)) : v;
            any = true;
          }
        }
        v128.store(out + (<usize>c << 2), best);
      }
      for (; c < C; c++) store<f32>(out + (<usize>c << 2), maxTap(params, x, n, oh, ow, c));
    }
  }
}

export function f32_maxpool_bwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const KH = paramI32(params, 4), KW = paramI32(params, 5), SH = paramI32(params, 6), SW = paramI32(params, 7);
  const PH = paramI32(params, 8), PW = paramI32(params, 9), OH = paramI32(params, 10), OW = paramI32(params, 11);
  const x = paramPtr(params, 12), dy = paramPtr(params, 13), dx = paramPtr(params, 14);
  for (let r = begin; r < end; r++) {
    const n = r / H, h = r % H;
    const ohLo = windowsLo(h, KH, SH, PH), ohHi = windowsHi(h, SH, PH, OH);
    for (let w = 0; w < W; w++) {
      const owLo = windowsLo(w, KW, SW, PW), owHi = windowsHi(w, SW, PW, OW);
      const out = dx + ((((<usize>r * W + w) * C)) << 2);
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        let sum = f32x4.splat(0);
        for (let oh = ohLo; oh < ohHi; oh++) {
          for (let ow = owLo; ow < owHi; ow++) {
            // Per lane, the window's first max tap; this pixel's tap index; dy where they match.
            let best = f32x4.splat(0), bestK = i32x4.splat(-1), any = false;
            for (let ky = 0; ky < KH; ky++) {
              const hh = oh * SH - PH + ky;
              if (hh < 0 || hh >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ww = ow * SW - PW + kx;
                if (ww < 0 || ww >= W) continue;
                const v = v128.load(x + ((((<usize>n * H + hh) * W + ww) * C + c) << 2));
                const take = any ? f32x4.gt(v, best) : i32x4.splat(-1);
                best = v128.bitselect(v, best, take);
                bestK = v128.bitselect(i32x4.splat(ky * KW + kx), bestK, take);
                any = true;
              }
            }
            const mine = i32x4.splat((h - (oh * SH - PH)) * KW + (w - (ow * SW - PW)));
            const g = v128.load(dy + ((((<usize>n * OH + oh) * OW + ow) * C + c) << 2));
            sum = f32x4.add(sum, v128.and(g, i32x4.eq(bestK, mine)));
          }
        }
        v128.store(out + (<usize>c << 2), sum);
      }
      for (; c < C; c++) store<f32>(out + (<usize>c << 2), maxGather(params, x, dy, n, h, w, c));
    }
  }
}
