// float64 reference forwards of the ops (src/ops/), written for clarity. Layouts as in src/ops:
// NHWC activations, HWIO conv weights, dense weights (in, out).
import { softmaxXentRef } from './nn_reference.ts';
export type Arr = ArrayLike<number>;

export function samePad(size: number, k: number, s: number): [number, number] {
  const out = Math.ceil(size / s);
  return [out, Math.floor(Math.max((out - 1) * s + k - size, 0) / 2)];
}

export function conv2dRef(x: Arr, xs: number[], w: Arr, ws: number[], b: Arr | null, stride = 1, padding: 'same' | 'valid' | number = 'valid'): { y: Float64Array; shape: number[] } {
  const [N, H, W, C] = xs, [KH, KW, , O] = ws;
  let OH: number, OW: number, pt: number, pl: number;
  if (padding === 'same') {
    [OH, pt] = samePad(H, KH, stride);
    [OW, pl] = samePad(W, KW, stride);
  } else {
    const p = padding === 'valid' ? 0 : padding;
    OH = Math.floor((H + 2 * p - KH) / stride) + 1;
    OW = Math.floor((W + 2 * p - KW) / stride) + 1;
    pt = pl = p;
  }
  const y = new Float64Array(N * OH * OW * O);
  for (let n = 0; n < N; n++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) for (let o = 0; o < O; o++) {
    let s = b ? b[o] : 0;
    for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const ih = oh * stride + kh - pt, iw = ow * stride + kw - pl;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      for (let c = 0; c < C; c++) s += x[((n * H + ih) * W + iw) * C + c] * w[((kh * KW + kw) * C + c) * O + o];
    }
    y[((n * OH + oh) * OW + ow) * O + o] = s;
  }
  return { y, shape: [N, OH, OW, O] };
}

export function maxPoolRef(x: Arr, xs: number[]): Float64Array {
  const [N, H, W, C] = xs, OH = H >> 1, OW = W >> 1;
  const y = new Float64Array(N * OH * OW * C);
  for (let n = 0; n < N; n++) for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) for (let c = 0; c < C; c++) {
    let m = -Infinity;
    for (const [di, dj] of [[0, 0], [0, 1], [1, 0], [1, 1]]) m = Math.max(m, x[((n * H + 2 * i + di) * W + 2 * j + dj) * C + c]);
    y[((n * OH + i) * OW + j) * C + c] = m;
  }
  return y;
}

export function denseRef(x: Arr, [B, I]: number[], w: Arr, O: number, b: Arr | null): Float64Array {
  const y = new Float64Array(B * O);
  for (let r = 0; r < B; r++) for (let o = 0; o < O; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < I; i++) s += x[r * I + i] * w[i * O + o];
    y[r * O + o] = s;
  }
  return y;
}

export function xentRef(z: Arr, [B, K]: number[], labels: Int32Array): Float64Array {
  return softmaxXentRef(z, labels, B, K);
}

export function marginRef(z: Arr, [B, K]: number[], labels: Int32Array): Float64Array {
  const out = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    let m = -Infinity;
    for (let j = 0; j < K; j++) if (j !== labels[i]) m = Math.max(m, z[i * K + j]);
    out[i] = m - z[i * K + labels[i]];
  }
  return out;
}
