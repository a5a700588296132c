// float64 references for the perturbation kernels, written for clarity (slow is fine).
// Rows: `batch` rows of `dim` values; eps per row.

function rowOf(a: ArrayLike<number>, n: number, dim: number): number[] {
  return Array.from({ length: dim }, (_, i) => a[n * dim + i]);
}

/** clamp(δ, −ε, ε) and, with x0, x0 + δ ∈ [0, 1]. */
export function projLinfRef(delta: ArrayLike<number>, x0: ArrayLike<number> | null, eps: ArrayLike<number>, batch: number): Float64Array {
  const dim = delta.length / batch, out = new Float64Array(delta.length);
  for (let k = 0; k < delta.length; k++) {
    const e = eps[Math.floor(k / dim)];
    let v = Math.min(Math.max(delta[k], -e), e);
    if (x0) v = Math.min(Math.max(v, -x0[k]), 1 - x0[k]);
    out[k] = v;
  }
  return out;
}

/** δ·min(1, ε/‖δ‖₂), then the box clip. */
export function projL2Ref(delta: ArrayLike<number>, x0: ArrayLike<number> | null, eps: ArrayLike<number>, batch: number): Float64Array {
  const dim = delta.length / batch, out = new Float64Array(delta.length);
  for (let n = 0; n < batch; n++) {
    const r = rowOf(delta, n, dim);
    const norm = Math.sqrt(r.reduce((s, v) => s + v * v, 0));
    const scale = norm > eps[n] ? eps[n] / norm : 1;
    for (let i = 0; i < dim; i++) {
      let v = r[i] * scale;
      if (x0) v = Math.min(Math.max(v, -x0[n * dim + i]), 1 - x0[n * dim + i]);
      out[n * dim + i] = v;
    }
  }
  return out;
}

/** Duchi et al. threshold θ of one row (θ = 0 when ‖v‖₁ ≤ ε). */
export function l1Threshold(row: number[], eps: number): number {
  const u = row.map(Math.abs).sort((a, b) => b - a);
  if (u.reduce((s, v) => s + v, 0) <= eps) return 0;
  let sum = 0, theta = 0;
  for (let j = 0; j < u.length; j++) {
    sum += u[j];
    const t = (sum - eps) / (j + 1);
    if (u[j] - t > 0) theta = t;
  }
  return theta;
}

/** Exact L1-ball projection (sort-based), then the box clip when x0 is given. */
export function projL1Ref(delta: ArrayLike<number>, x0: ArrayLike<number> | null, eps: ArrayLike<number>, batch: number): Float64Array {
  const dim = delta.length / batch, out = new Float64Array(delta.length);
  for (let n = 0; n < batch; n++) {
    const r = rowOf(delta, n, dim);
    const theta = eps[n] === 0 ? Infinity : l1Threshold(r, eps[n]);
    for (let i = 0; i < dim; i++) {
      let v = Math.sign(r[i]) * Math.max(Math.abs(r[i]) - theta, 0);
      if (x0) v = Math.min(Math.max(v, -x0[n * dim + i]), 1 - x0[n * dim + i]);
      out[n * dim + i] = v;
    }
  }
  return out;
}

/** b_i: room in the box in the direction of δ_i. */
export function boxBoundRef(d: number, x: number): number {
  return Math.max(d > 0 ? 1 - x : x, 0);
}

/** λ of the exact L1 ∩ box projection by 200 bisection steps on f(λ) = Σ min(max(|δ|−λ, 0), b). */
export function l1BoxLambda(row: number[], x0: number[], eps: number): number {
  const b = row.map((d, i) => boxBoundRef(d, x0[i]));
  const f = (lam: number) => row.reduce((s, d, i) => s + Math.min(Math.max(Math.abs(d) - lam, 0), b[i]), 0);
  if (f(0) <= eps) return 0;
  let lo = 0, hi = Math.max(...row.map(Math.abs));
  for (let it = 0; it < 200; it++) {
    const mid = (lo + hi) / 2;
    if (f(mid) > eps) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Exact projection onto {‖z‖₁ ≤ ε, 0 ≤ x0 + z ≤ 1}. */
export function projL1BoxRef(delta: ArrayLike<number>, x0: ArrayLike<number>, eps: ArrayLike<number>, batch: number): Float64Array {
  const dim = delta.length / batch, out = new Float64Array(delta.length);
  for (let n = 0; n < batch; n++) {
    const r = rowOf(delta, n, dim), x = rowOf(x0, n, dim);
    const lam = eps[n] === 0 ? Infinity : l1BoxLambda(r, x, eps[n]);
    for (let i = 0; i < dim; i++) {
      out[n * dim + i] = Math.sign(r[i]) * Math.min(Math.max(Math.abs(r[i]) - lam, 0), boxBoundRef(r[i], x[i]));
    }
  }
  return out;
}

/** numpy.percentile(values, q) with the default linear rule. */
export function percentileRef(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const pos = (q / 100) * (s.length - 1), lo = Math.floor(pos), frac = pos - lo;
  return lo + 1 < s.length ? s[lo] + (s[lo + 1] - s[lo]) * frac : s[lo];
}

/** SLIDE direction per row (see assembly/norms.ts). */
export function slideDirRef(g: ArrayLike<number>, x: ArrayLike<number> | null, q: number, batch: number, unblockedOnly = false): Float64Array {
  const dim = g.length / batch, out = new Float64Array(g.length);
  for (let n = 0; n < batch; n++) {
    const gg: number[] = [], pool: number[] = [];
    for (let i = 0; i < dim; i++) {
      const k = n * dim + i, v = g[k];
      const blocked = x !== null && ((x[k] >= 1 && v > 0) || (x[k] <= 0 && v < 0));
      gg.push(blocked ? 0 : v);
      if (!(blocked && unblockedOnly)) pool.push(blocked ? 0 : Math.abs(v));
    }
    const p = percentileRef(pool, q);
    const sel = gg.map((v) => v !== 0 && Math.abs(v) >= p);
    const count = sel.filter(Boolean).length;
    for (let i = 0; i < dim; i++) out[n * dim + i] = sel[i] ? Math.sign(gg[i]) / count : 0;
  }
  return out;
}

/** Sample location of output pixel (i, j) (see assembly/bilinear.ts). */
export function sampleAt(i: number, j: number, h: number, w: number, theta: number, tx: number, ty: number): [number, number] {
  const cx = (w - 1) / 2, cy = (h - 1) / 2;
  const u = j - tx - cx, v = i - ty - cy;
  return [Math.cos(theta) * u - Math.sin(theta) * v + cx, Math.sin(theta) * u + Math.cos(theta) * v + cy];
}

/** Bilinear rotation-translation of NHWC images, zero fill; params (θ, tx, ty) per example. */
export function spatialRef(x: ArrayLike<number>, batch: number, h: number, w: number, c: number, params: ArrayLike<number>): Float64Array {
  const out = new Float64Array(batch * h * w * c);
  const img = (n: number, y: number, xx: number, ch: number) =>
    y < 0 || y >= h || xx < 0 || xx >= w ? 0 : x[((n * h + y) * w + xx) * c + ch];
  for (let n = 0; n < batch; n++) {
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      const [sx, sy] = sampleAt(i, j, h, w, params[3 * n], params[3 * n + 1], params[3 * n + 2]);
      const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
      for (let ch = 0; ch < c; ch++) {
        const top = (1 - fx) * img(n, y0, x0, ch) + fx * img(n, y0, x0 + 1, ch);
        const bottom = (1 - fx) * img(n, y0 + 1, x0, ch) + fx * img(n, y0 + 1, x0 + 1, ch);
        out[((n * h + i) * w + j) * c + ch] = (1 - fy) * top + fy * bottom;
      }
    }
  }
  return out;
}
