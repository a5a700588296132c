// Average pooling (rectangular windows, strides, symmetric zero padding), forward and backward;
// global average pooling is the window H × W. Used by ONNX models (AveragePool, GlobalAveragePool).
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

// ---------------------------------------------------------------------------------------------
// Scalar reference
// ---------------------------------------------------------------------------------------------

export function f32_avgpool2d_fwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const KH = paramI32(params, 4), KW = paramI32(params, 5), SH = paramI32(params, 6), SW = paramI32(params, 7);
  const PH = paramI32(params, 8), PW = paramI32(params, 9), OH = paramI32(params, 10), OW = paramI32(params, 11);
  const a = paramPtr(params, 12), b = paramPtr(params, 13);
  for (let r = begin; r < end; r++) {
    const n = r / OH, oh = r % OH;
    for (let ow = 0; ow < OW; ow++) {
      const div = divisor(params, oh, ow);
      for (let c = 0; c < C; c++) {
        let sum: f32 = 0;
        for (let ky = 0; ky < KH; ky++) {
          const h = oh * SH - PH + ky;
          if (h < 0 || h >= H) continue;
          for (let kx = 0; kx < KW; kx++) {
            const w = ow * SW - PW + kx;
            if (w < 0 || w >= W) continue;
            sum += load<f32>(a + ((((<usize>n * H + h) * W + w) * C + c) << 2));
          }
        }
        store<f32>(b + ((((<usize>r * OW + ow) * C) + c) << 2), sum / div);
      }
    }
  }
}

export function f32_avgpool2d_bwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const KH = paramI32(params, 4), KW = paramI32(params, 5), SH = paramI32(params, 6), SW = paramI32(params, 7);
  const PH = paramI32(params, 8), PW = paramI32(params, 9), OH = paramI32(params, 10), OW = paramI32(params, 11);
  const a = paramPtr(params, 12), b = paramPtr(params, 13);
  for (let r = begin; r < end; r++) {
    const n = r / H, h = r % H;
    const ohLo = windowsLo(h, KH, SH, PH), ohHi = windowsHi(h, SH, PH, OH);
    for (let w = 0; w < W; w++) {
      const owLo = windowsLo(w, KW, SW, PW), owHi = windowsHi(w, SW, PW, OW);
      for (let c = 0; c < C; c++) {
        let sum: f32 = 0;
        for (let oh = ohLo; oh < ohHi; oh++) {
          for (let ow = owLo; ow < owHi; ow++) {
            sum += load<f32>(a + ((((<usize>n * OH + oh) * OW + ow) * C + c) << 2)) / divisor(params, oh, ow);
          }
        }
        store<f32>(b + ((((<usize>r * W + w) * C) + c) << 2), sum);
      }
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
      for (; c < C; c++) {
        let sum: f32 = 0;
        for (let ky = 0; ky < KH; ky++) {
          const h = oh * SH - PH + ky;
          if (h < 0 || h >= H) continue;
          for (let kx = 0; kx < KW; kx++) {
            const w = ow * SW - PW + kx;
            if (w < 0 || w >= W) continue;
            sum += load<f32>(a + ((((<usize>n * H + h) * W + w) * C + c) << 2));
          }
        }
        store<f32>(out + (<usize>c << 2), sum / div);
      }
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
      for (; c < C; c++) {
        let sum: f32 = 0;
        for (let oh = ohLo; oh < ohHi; oh++) {
          for (let ow = owLo; ow < owHi; ow++) {
            sum += load<f32>(a + ((((<usize>n * OH + oh) * OW + ow) * C + c) << 2)) / divisor(params, oh, ow);
          }
        }
        store<f32>(out + (<usize>c << 2), sum);
      }
    }
  }
}
