// float64 references for the bias/ReLU, max-pool, loss and optimizer kernels, written for clarity.
import { avgPoolShape, type AvgPoolGeometry } from '../../src/kernels/avgpool.ts';
import type { Engine, Params } from '../../src/engine.ts';

export function biasAddRef(x: ArrayLike<number>, bias: ArrayLike<number>, rows: number, cols: number, relu: boolean): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = x[r * cols + c] + bias[c];
      y[r * cols + c] = relu ? Math.max(v, 0) : v;
    }
  }
  return y;
}

export function biasBackwardRef(dy: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const db = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) db[c] += dy[r * cols + c];
  return db;
}

/** Index into an (N, H, W, C) tensor. */
export function nhwc(n: number, h: number, w: number, c: number, H: number, W: number, C: number): number {
  return ((n * H + h) * W + w) * C + c;
}

/** For each output element, the x index of the first max of its 2×2 window (scan (0,0),(0,1),(1,0),(1,1)). */
export function maxPoolArgmaxRef(x: ArrayLike<number>, N: number, H: number, W: number, C: number): Int32Array {
  const OH = Math.floor(H / 2), OW = Math.floor(W / 2);
  const arg = new Int32Array(N * OH * OW * C);
  for (let n = 0; n < N; n++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) for (let c = 0; c < C; c++) {
    let best = nhwc(n, 2 * oh, 2 * ow, c, H, W, C);
    for (const [dh, dw] of [[0, 1], [1, 0], [1, 1]]) {
      const i = nhwc(n, 2 * oh + dh, 2 * ow + dw, c, H, W, C);
      if (x[i] > x[best]) best = i;
    }
    arg[nhwc(n, oh, ow, c, OH, OW, C)] = best;
  }
  return arg;
}

export function maxPoolRef(x: ArrayLike<number>, N: number, H: number, W: number, C: number): Float64Array {
  const arg = maxPoolArgmaxRef(x, N, H, W, C);
  return Float64Array.from(arg, (i) => x[i]);
}

export function maxPoolBackwardRef(x: ArrayLike<number>, dy: ArrayLike<number>, N: number, H: number, W: number, C: number): Float64Array {
  const arg = maxPoolArgmaxRef(x, N, H, W, C);
  const dx = new Float64Array(N * H * W * C);
  for (let o = 0; o < arg.length; o++) dx[arg[o]] += dy[o];
  return dx;
}

export function softmaxXentRef(z: ArrayLike<number>, labels: ArrayLike<number>, B: number, K: number): Float64Array {
  const out = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    let m = -Infinity;
    for (let j = 0; j < K; j++) m = Math.max(m, z[i * K + j]);
    let s = 0;
    for (let j = 0; j < K; j++) s += Math.exp(z[i * K + j] - m);
    out[i] = Math.log(s) + m - z[i * K + labels[i]];
  }
  return out;
}

export function softmaxXentBackwardRef(z: ArrayLike<number>, labels: ArrayLike<number>, dl: ArrayLike<number>, B: number, K: number): Float64Array {
  const dz = new Float64Array(B * K);
  for (let i = 0; i < B; i++) {
    let m = -Infinity;
    for (let j = 0; j < K; j++) m = Math.max(m, z[i * K + j]);
    let s = 0;
    for (let j = 0; j < K; j++) s += Math.exp(z[i * K + j] - m);
    for (let j = 0; j < K; j++) dz[i * K + j] = (Math.exp(z[i * K + j] - m) / s - (j === labels[i] ? 1 : 0)) * dl[i];
  }
  return dz;
}

/** The first j ≠ y with the largest z[i, j]. */
function firstMaxOther(z: ArrayLike<number>, i: number, K: number, y: number): number {
  let best = -1;
  for (let j = 0; j < K; j++) if (j !== y && (best < 0 || z[i * K + j] > z[i * K + best])) best = j;
  return best;
}

export function marginLossRef(z: ArrayLike<number>, labels: ArrayLike<number>, B: number, K: number): Float64Array {
  const out = new Float64Array(B);
  for (let i = 0; i < B; i++) out[i] = z[i * K + firstMaxOther(z, i, K, labels[i])] - z[i * K + labels[i]];
  return out;
}

export function marginLossBackwardRef(z: ArrayLike<number>, labels: ArrayLike<number>, dl: ArrayLike<number>, B: number, K: number): Float64Array {
  const dz = new Float64Array(B * K);
  for (let i = 0; i < B; i++) {
    dz[i * K + firstMaxOther(z, i, K, labels[i])] = dl[i];
    dz[i * K + labels[i]] = -dl[i];
  }
  return dz;
}

/** torch.optim.Adam (amsgrad off), float64, one step in place on p, m, v. */
export function adamRef(p: Float64Array, g: ArrayLike<number>, m: Float64Array, v: Float64Array,
                        o: { lr: number; beta1: number; beta2: number; eps: number; step: number; weightDecay: number }): void {
  const bc1 = 1 - o.beta1 ** o.step, bc2 = 1 - o.beta2 ** o.step;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] + o.weightDecay * p[i];
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
    const mHat = m[i] / bc1, vHat = v[i] / bc2;
    p[i] -= o.lr * mHat / (Math.sqrt(vHat) + o.eps);
  }
}

/** torch.optim.SGD (dampening 0), float64, one step in place on p and buf. */
export function sgdRef(p: Float64Array, g: ArrayLike<number>, buf: Float64Array,
                       o: { lr: number; momentum: number; weightDecay: number; nesterov: boolean; firstStep: boolean }): void {
  for (let i = 0; i < p.length; i++) {
    let gi = g[i] + o.weightDecay * p[i];
    if (o.momentum !== 0) {
      buf[i] = o.firstStep ? gi : o.momentum * buf[i] + gi;
      gi = o.nesterov ? gi + o.momentum * buf[i] : buf[i];
    }
    p[i] -= o.lr * gi;
  }
}

/**
 * Runs kernel `name` directly over the parts [0, s1), [s1, s2), …, [sk, total) with its own
 * parameter block, as a worker pool would split it. For reductions, `partials` receives one
 * partial per part (each `partialLength` floats) and is returned.
 */
export function runParts(engine: Engine, name: string, params: Params, total: number, cuts: number[], partialLength = 0): Float32Array[] {
  const fn = engine.kernel(name);
  const n = params.values.length;
  const ptr = engine.arena.alloc(4 * n);
  const i32 = engine.arena.i32(ptr, n), f32 = engine.arena.f32(ptr, n);
  for (let i = 0; i < n; i++) {
    if (params.isFloat[i]) f32[i] = params.values[i];
    else i32[i] = params.values[i];
  }
  const sizer = engine.exports[`${name}_scratch`] as ((p: number) => number) | undefined;
  const scratch = engine.arena.alloc(sizer ? sizer(ptr) : 0);
  const bounds = [0, ...cuts, total];
  const partials: Float32Array[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    if (partialLength > 0) {
      const out = engine.arena.allocF32(partialLength);
      fn(ptr, bounds[k], bounds[k + 1], scratch, out.ptr);
      partials.push(engine.toF32(out));
    } else {
      fn(ptr, bounds[k], bounds[k + 1], scratch);
    }
  }
  return partials;
}

/** float64 average pooling, NHWC. */
export function avgPoolRef(x: ArrayLike<number>, g: AvgPoolGeometry): Float64Array {
  const s = avgPoolShape('ref', g);
  const y = new Float64Array(s.batch * s.oh * s.ow * s.c);
  for (let n = 0; n < s.batch; n++) for (let oh = 0; oh < s.oh; oh++) for (let ow = 0; ow < s.ow; ow++) for (let c = 0; c < s.c; c++) {
    let sum = 0, count = 0;
    for (let ky = 0; ky < s.kh; ky++) for (let kx = 0; kx < s.kw; kx++) {
      const h = oh * s.sh - s.ph + ky, w = ow * s.sw - s.pw + kx;
      if (h < 0 || h >= s.h || w < 0 || w >= s.w) continue;
      sum += x[((n * s.h + h) * s.w + w) * s.c + c];
      count++;
    }
    y[((n * s.oh + oh) * s.ow + ow) * s.c + c] = sum / (s.includePad ? s.kh * s.kw : count);
  }
  return y;
}


/** float64 general max pooling, NHWC: taps inside the image, row-major, first max wins ties; also the argmax per output. */
export function maxPoolGeneralRef(x: ArrayLike<number>, g: AvgPoolGeometry): { y: Float64Array; arg: Int32Array } {
  const s = avgPoolShape('ref', g);
  const y = new Float64Array(s.batch * s.oh * s.ow * s.c), arg = new Int32Array(y.length);
  for (let n = 0; n < s.batch; n++) for (let oh = 0; oh < s.oh; oh++) for (let ow = 0; ow < s.ow; ow++) for (let c = 0; c < s.c; c++) {
    let best = -Infinity, at = -1;
    for (let ky = 0; ky < s.kh; ky++) for (let kx = 0; kx < s.kw; kx++) {
      const h = oh * s.sh - s.ph + ky, w = ow * s.sw - s.pw + kx;
      if (h < 0 || h >= s.h || w < 0 || w >= s.w) continue;
      const i = ((n * s.h + h) * s.w + w) * s.c + c;
      if (at < 0 || x[i] > best) {
        best = x[i];
        at = i;
      }
    }
    const o = ((n * s.oh + oh) * s.ow + ow) * s.c + c;
    y[o] = best;
    arg[o] = at;
  }
  return { y, arg };
}
