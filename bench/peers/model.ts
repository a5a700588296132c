// The paper's MNIST CNN (Madry et al. / Tramèr & Boneh 2019), shared by every peer of the
// end-to-end bench: conv 5×5×32 SAME → ReLU → maxpool 2 → conv 5×5×64 SAME → ReLU → maxpool 2
// → dense 3136→1024 → ReLU → dense 1024→10. Weights are seeded and stored in PyTorch names and
// layouts (conv OIHW, dense [out, in], fc1 inputs flattened in (C,H,W) order); inputs are NHWC.
// Also: the layout conversions the peers need, and a float64 reference forward / input gradient.
import { seeded } from '../_util.ts';

export const IMAGE = { h: 28, w: 28, c: 1 } as const;
export const CLASSES = 10;
export const BATCH = 100;
export const FC1_IN = 64 * 7 * 7;

export type WeightName = 'conv1.weight' | 'conv1.bias' | 'conv2.weight' | 'conv2.bias' | 'fc1.weight' | 'fc1.bias' | 'fc2.weight' | 'fc2.bias';
export interface Param {
  shape: number[];
  data: Float32Array;
}
export type Weights = Record<WeightName, Param>;

export const WEIGHT_SHAPES: Record<WeightName, number[]> = {
  'conv1.weight': [32, 1, 5, 5],
  'conv1.bias': [32],
  'conv2.weight': [64, 32, 5, 5],
  'conv2.bias': [64],
  'fc1.weight': [1024, FC1_IN],
  'fc1.bias': [1024],
  'fc2.weight': [CLASSES, 1024],
  'fc2.bias': [CLASSES],
};

/** FLOPs per image (2·MAC), as in perf.md §1: forward, input gradient, training step. */
export const FLOPS_PER_IMAGE = { forward: 27.77e6, input_grad: 55.54e6, train_step: 82.05e6 } as const;

export { seeded };

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** He-normal weights (std √(2/fan_in), Box–Muller) and uniform biases in [−0.1, 0.1]. */
export function makeWeights(seed = 1): Weights {
  const rand = seeded(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const out = {} as Weights;
  for (const name of Object.keys(WEIGHT_SHAPES) as WeightName[]) {
    const shape = WEIGHT_SHAPES[name];
    const data = new Float32Array(size(shape));
    if (name.endsWith('.weight')) {
      const std = Math.sqrt(2 / size(shape.slice(1)));
      for (let i = 0; i < data.length; i++) data[i] = std * normal();
    } else {
      for (let i = 0; i < data.length; i++) data[i] = 0.2 * rand() - 0.1;
    }
    out[name] = { shape, data };
  }
  return out;
}

/** Seeded images in [0, 1], NHWC [batch, 28, 28, 1], and labels in [0, 10). */
export function makeBatch(batch = BATCH, seed = 2): { x: Float32Array; y: Int32Array } {
  const rand = seeded(seed);
  const x = new Float32Array(batch * IMAGE.h * IMAGE.w * IMAGE.c);
  for (let i = 0; i < x.length; i++) x[i] = rand();
  const y = new Int32Array(batch);
  for (let i = 0; i < batch; i++) y[i] = Math.floor(rand() * CLASSES);
  return { x, y };
}

/** Deep copy, so a training peer never updates the weights another peer reads. */
export function cloneWeights(w: Weights): Weights {
  const out = {} as Weights;
  for (const name of Object.keys(w) as WeightName[]) out[name] = { shape: [...w[name].shape], data: w[name].data.slice() };
  return out;
}

/** Conv weight OIHW [co, ci, kh, kw] → HWIO [kh, kw, ci, co]. */
export function oihwToHwio(p: Param): Float32Array {
  const [co, ci, kh, kw] = p.shape;
  const out = new Float32Array(p.data.length);
  for (let o = 0; o < co; o++)
    for (let i = 0; i < ci; i++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) out[((y * kw + x) * ci + i) * co + o] = p.data[((o * ci + i) * kh + y) * kw + x];
  return out;
}

/** Dense weight [out, in] → [in, out] (row-major x·W). */
export function transposeDense(p: Param): Float32Array {
  const [rows, cols] = p.shape;
  const out = new Float32Array(p.data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = p.data[r * cols + c];
  return out;
}

/**
 * fc1.weight [1024, 3136] with inputs in (C,H,W) order → [3136, 1024] with rows in (H,W,C) order,
 * i.e. the matrix that multiplies an NHWC activation [N, 7, 7, 64] flattened as is.
 */
export function fc1ToHwcRows(p: Param, c = 64, h = 7, w = 7): Float32Array {
  const out = p.shape[0];
  const res = new Float32Array(p.data.length);
  for (let o = 0; o < out; o++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) res[((y * w + x) * c + ch) * out + o] = p.data[o * c * h * w + (ch * h + y) * w + x];
  return res;
}

// ---------------------------------------------------------------- float64 reference (slow, small batches)

/** SAME 5×5 conv, NHWC input [n,h,w,ci], OIHW weight, + bias, ReLU. */
function conv5ReluRef(x: Float64Array, n: number, h: number, w: number, ci: number, p: Param, bias: Param): Float64Array {
  const co = p.shape[0];
  const y = new Float64Array(n * h * w * co);
  for (let b = 0; b < n; b++)
    for (let r = 0; r < h; r++)
      for (let c = 0; c < w; c++)
        for (let o = 0; o < co; o++) {
          let s = bias.data[o];
          for (let ky = 0; ky < 5; ky++) {
            const yy = r + ky - 2;
            if (yy < 0 || yy >= h) continue;
            for (let kx = 0; kx < 5; kx++) {
              const xx = c + kx - 2;
              if (xx < 0 || xx >= w) continue;
              const xi = ((b * h + yy) * w + xx) * ci;
              for (let i = 0; i < ci; i++) s += x[xi + i] * p.data[((o * ci + i) * 5 + ky) * 5 + kx];
            }
          }
          y[((b * h + r) * w + c) * co + o] = s > 0 ? s : 0;
        }
  return y;
}

/** Transposed conv: dx from dy of a SAME 5×5 conv (no ReLU). */
function conv5BackInputRef(dy: Float64Array, n: number, h: number, w: number, ci: number, p: Param): Float64Array {
  const co = p.shape[0];
  const dx = new Float64Array(n * h * w * ci);
  for (let b = 0; b < n; b++)
    for (let r = 0; r < h; r++)
      for (let c = 0; c < w; c++)
        for (let o = 0; o < co; o++) {
          const g = dy[((b * h + r) * w + c) * co + o];
          if (g === 0) continue;
          for (let ky = 0; ky < 5; ky++) {
            const yy = r + ky - 2;
            if (yy < 0 || yy >= h) continue;
            for (let kx = 0; kx < 5; kx++) {
              const xx = c + kx - 2;
              if (xx < 0 || xx >= w) continue;
              const xi = ((b * h + yy) * w + xx) * ci;
              for (let i = 0; i < ci; i++) dx[xi + i] += g * p.data[((o * ci + i) * 5 + ky) * 5 + kx];
            }
          }
        }
  return dx;
}

/** 2×2/2 max-pool, NHWC; `arg` records the flat index of each window's (first) maximum. */
function pool2Ref(x: Float64Array, n: number, h: number, w: number, c: number): { y: Float64Array; arg: Int32Array } {
  const ho = h / 2, wo = w / 2;
  const y = new Float64Array(n * ho * wo * c);
  const arg = new Int32Array(y.length);
  for (let b = 0; b < n; b++)
    for (let r = 0; r < ho; r++)
      for (let q = 0; q < wo; q++)
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity, at = -1;
          for (let dy = 0; dy < 2; dy++)
            for (let dx = 0; dx < 2; dx++) {
              const i = ((b * h + 2 * r + dy) * w + 2 * q + dx) * c + ch;
              if (x[i] > best) (best = x[i]), (at = i);
            }
          const o = ((b * ho + r) * wo + q) * c + ch;
          y[o] = best;
          arg[o] = at;
        }
  return { y, arg };
}

/** y[n, out] = relu?(x[n, in] · Wᵀ + b) with W in [out, in]; flatten order of `x` given by `colOf`. */
function denseRef(x: Float64Array, n: number, p: Param, bias: Param, relu: boolean, colOf?: Int32Array): Float64Array {
  const [out, inn] = p.shape;
  const y = new Float64Array(n * out);
  for (let b = 0; b < n; b++)
    for (let o = 0; o < out; o++) {
      let s = bias.data[o];
      for (let i = 0; i < inn; i++) s += x[b * inn + (colOf ? colOf[i] : i)] * p.data[o * inn + i];
      y[b * out + o] = relu && s < 0 ? 0 : s;
    }
  return y;
}

/** For column k = (c·7 + h)·7 + w of fc1 (CHW order), the index of that value in an NHWC [7,7,64] activation. */
function chwToHwcIndex(c = 64, h = 7, w = 7): Int32Array {
  const idx = new Int32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) idx[(ch * h + y) * w + x] = (y * w + x) * c + ch;
  return idx;
}

/**
 * float64 reference: logits [n, 10] and, if `y` is given, the mean softmax cross-entropy and its
 * gradient with respect to the NHWC input (weights frozen), both in float64.
 */
export function referenceForwardBackward(
  W: Weights, x: Float32Array, n: number, y?: Int32Array,
): { logits: Float64Array; loss?: number; dx?: Float64Array } {
  const hw = IMAGE.h * IMAGE.w;
  if (x.length !== n * hw) throw new Error(`x: length ${x.length} != ${n}·${hw}`);
  const colOf = chwToHwcIndex();
  const a1 = conv5ReluRef(Float64Array.from(x), n, 28, 28, 1, W['conv1.weight'], W['conv1.bias']);
  const p1 = pool2Ref(a1, n, 28, 28, 32);
  const a2 = conv5ReluRef(p1.y, n, 14, 14, 32, W['conv2.weight'], W['conv2.bias']);
  const p2 = pool2Ref(a2, n, 14, 14, 64);
  const h1 = denseRef(p2.y, n, W['fc1.weight'], W['fc1.bias'], true, colOf);
  const logits = denseRef(h1, n, W['fc2.weight'], W['fc2.bias'], false);
  if (!y) return { logits };

  // Softmax cross-entropy, mean over the batch: dL/dlogits = (softmax − onehot) / n.
  let loss = 0;
  const dz = new Float64Array(n * CLASSES);
  for (let b = 0; b < n; b++) {
    const row = logits.subarray(b * CLASSES, (b + 1) * CLASSES);
    const m = Math.max(...row);
    let s = 0;
    for (let k = 0; k < CLASSES; k++) s += Math.exp(row[k] - m);
    loss += (m + Math.log(s) - row[y[b]]) / n;
    for (let k = 0; k < CLASSES; k++) dz[b * CLASSES + k] = (Math.exp(row[k] - m) / s - (k === y[b] ? 1 : 0)) / n;
  }
  // Back through fc2, ReLU, fc1 (into the NHWC pooled activation), pool2, ReLU, conv2, pool1, ReLU, conv1.
  const fc2 = W['fc2.weight'].data, fc1 = W['fc1.weight'].data;
  const dh1 = new Float64Array(n * 1024);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < 1024; i++) {
      if (h1[b * 1024 + i] <= 0) continue;
      let s = 0;
      for (let k = 0; k < CLASSES; k++) s += dz[b * CLASSES + k] * fc2[k * 1024 + i];
      dh1[b * 1024 + i] = s;
    }
  const dp2 = new Float64Array(p2.y.length);
  for (let b = 0; b < n; b++)
    for (let o = 0; o < 1024; o++) {
      const g = dh1[b * 1024 + o];
      if (g === 0) continue;
      for (let i = 0; i < FC1_IN; i++) dp2[b * FC1_IN + colOf[i]] += g * fc1[o * FC1_IN + i];
    }
  const da2 = new Float64Array(a2.length);
  for (let i = 0; i < dp2.length; i++) if (a2[p2.arg[i]] > 0) da2[p2.arg[i]] += dp2[i];
  const dp1 = conv5BackInputRef(da2, n, 14, 14, 32, W['conv2.weight']);
  const da1 = new Float64Array(a1.length);
  for (let i = 0; i < dp1.length; i++) if (a1[p1.arg[i]] > 0) da1[p1.arg[i]] += dp1[i];
  const dx = conv5BackInputRef(da1, n, 28, 28, 1, W['conv1.weight']);
  return { logits, loss, dx };
}

/** max |a − b| / max |b|: the relative difference the bench and test report. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxRelDiff: lengths ${a.length} and ${b.length} differ`);
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    d = Number.isNaN(e) ? Infinity : Math.max(d, e);
    s = Math.max(s, Math.abs(b[i]));
  }
  return s === 0 ? d : d / s;
}

/** The interface every peer implements (and our engine will, in bench/e2e.bench.ts). */
export interface Peer {
  name: string;
  threads: number;
  /** Logits [n, 10] for NHWC images [n, 28, 28, 1]. */
  forward(x: Float32Array): Promise<Float32Array>;
  /** dL/dx, NHWC, for the mean softmax cross-entropy with the weights frozen: one PGD step's cost. */
  inputGrad(x: Float32Array, y: Int32Array): Promise<Float32Array>;
  /** Forward, backward to all weights and an optimizer update of the peer's own copy; returns the loss (may throw: unsupported). */
  trainStep(x: Float32Array, y: Int32Array): Promise<number>;
  /** What trainStep's update is, e.g. "Adam(lr 1e-3)". */
  optimizer: string;
  dispose(): void;
}
