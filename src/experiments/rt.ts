// L∞ vs rotation-translation (RT) as mutually exclusive perturbations, on small synthetic images.
//
// What makes the two exclusive (the paper's argument for L∞ vs RT, paper.md §2.1/§3.2, rebuilt
// here): L∞ with ε = 2η erases every feature whose class signal per pixel is smaller than η (it can
// move each pixel to the other class's mean), while a small rotation or translation erases every
// feature that depends on the exact pixel grid. So build an image whose only L∞-robust feature is
// grid-exact and whose only RT-robust feature is faint:
//   x[i][j] = c·s·χ[i][j] + y·η + g[i][j],   χ[i][j] = (−1)^(i+j) (a checkerboard),
//   y uniform on {−1, +1}; s = y with probability p, −y otherwise (the robust feature x0 of the
//   Gaussian task, now the checkerboard's phase, contrast c = 1 ≫ ε); y·η on every pixel (the d weak
//   features N(yη, 1) of the Gaussian task, d = H·W, η = α/√d) and i.i.d. noise g ~ N(0, 1).
//   - The phase s survives L∞ (ε = 2η < c) but a one-pixel translation maps χ to −χ: it swaps the
//     classes' patterns, as the L1 budget flips x0 in the Gaussian task.
//   - The brightness y·η is spread uniformly, so rotations and translations keep it (up to the
//     zero-filled border), but L∞ moves it to −y·η, exactly as in the Gaussian task.
//   f_chk = sign(Σ χ·x) relies on the phase (clean p, L∞ ≈ p, RT ≈ 0); f_mean = sign(Σ x) on the
//   brightness (clean Φ(α), L∞ Φ(−α), RT close to its clean accuracy). A linear model must weigh
//   one against the other: the union cannot have both.
// Threat models: L∞ ε = 2η (exact for a linear model: −ε·y·sign(w); no box, the pixels are
//   unbounded Gaussians); RT = the grid of 5 rotations (−10°, −5°, 0, 5°, 10°) × translations
//   tx, ty ∈ {−1, 0, 1} px (45 transforms, the identity included), bilinear with zero fill through
//   the engine's spatialTransform op (src/ops/spatial.ts, NHWC). An example is RT-robust when every
//   grid transform is classified correctly (the reference's grid attack, on a grid scaled to 16×16
//   images: the MNIST budget ±3 px, ±30° would be a third of such an image).
// Shapes: images (n, H, W, 1) NHWC stored as rows of D = H·W floats; labels Int8Array of ±1.
import { noGrad } from '../autograd.ts';
import { Rng } from '../nn/init.ts';
import { spatialTransform } from '../ops/index.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';
import { Normals, Phi } from './gaussian.ts';
import type { LinearAttack, LinearWeights } from './linear_train.ts';

export interface RtTask {
  /** Image side (H = W); even, so that the checkerboard sums to 0. */
  size: number;
  alpha: number;
  p: number;
  /** Contrast of the checkerboard (the robust feature). */
  contrast: number;
}

export interface RtAccuracies {
  clean: number;
  linf: number;
  rt: number;
  union: number;
}

export const rtEta = (t: RtTask): number => t.alpha / t.size;
export const rtEpsInf = (t: RtTask): number => 2 * rtEta(t);

export interface Images {
  n: number;
  size: number;
  x: Float32Array;
  y: Int8Array;
}

/** The checkerboard χ[i][j] = (−1)^(i+j), as a row of size² values. */
export function checker(size: number): Float64Array {
  const c = new Float64Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) c[i * size + j] = (i + j) % 2 === 0 ? 1 : -1;
  return c;
}

/** n images of the task, seeded. */
export function sampleImages(task: RtTask, n: number, seed: number): Images {
  if (task.size % 2 !== 0) throw new RangeError(`sampleImages: size must be even, got ${task.size}`);
  const rng = new Rng(seed);
  const g = new Normals(rng);
  const D = task.size * task.size, h = rtEta(task), chi = checker(task.size);
  const x = new Float32Array(n * D), y = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const yi = rng.next() < 0.5 ? -1 : 1;
    const s = rng.next() < task.p ? yi : -yi;
    y[i] = yi;
    for (let j = 0; j < D; j++) x[i * D + j] = task.contrast * s * chi[j] + yi * h + g.next();
  }
  return { n, size: task.size, x, y };
}

/** The RT grid: (θ radians, tx, ty) for θ ∈ {−10°, −5°, 0°, 5°, 10°}, tx, ty ∈ {−1, 0, 1}. */
export function rtGrid(): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (const deg of [-10, -5, 0, 5, 10]) for (const tx of [-1, 0, 1]) for (const ty of [-1, 0, 1]) out.push([(deg * Math.PI) / 180, tx, ty]);
  return out;
}

/** grid's K transforms for each of n examples, as (n·K, 3) parameters. */
export function gridParams(n: number, grid: [number, number, number][]): Float32Array {
  const params = new Float32Array(n * grid.length * 3);
  for (let i = 0; i < n; i++) grid.forEach((t, k) => params.set(t, (i * grid.length + k) * 3));
  return params;
}

/**
 * K transforms of each of n images (rows of size²) through the engine's spatialTransform op, with
 * params (n·K, 3): returns (n·K) rows, example i's K transforms consecutive.
 */
export function transformRows(engine: Engine, xb: Float32Array, n: number, size: number, params: Float32Array, K: number): Float32Array {
  const D = size * size;
  if (params.length !== n * K * 3) throw new RangeError(`transformRows: params has ${params.length} values, expected ${n}·${K}·3`);
  return engine.arena.scope(() => noGrad(() => {
    const x = Tensor.empty(engine, [n * K, size, size, 1]);
    const v = x.view();
    for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) v.set(xb.subarray(i * D, (i + 1) * D), (i * K + k) * D);
    return spatialTransform(x, Tensor.from(engine, params, [n * K, 3])).toArray();
  }));
}

function dotRow(f: LinearWeights, x: Float32Array, row: number): number {
  const D = f.w.length;
  let z = f.bias;
  for (let j = 0; j < D; j++) z += f.w[j] * x[row * D + j];
  return z;
}

/**
 * The RT attack: per example, the transform with the smallest margin y(w·x' + β) among the whole
 * grid, or (with `tries` and a seeded `rng`) among `tries` grid transforms drawn at random per
 * example, as the reference trains (paper.md §B: 10 random tries in training, the grid to evaluate).
 */
export function rtAttack(engine: Engine, size: number, opts: { grid?: [number, number, number][]; tries?: number; rng?: Rng } = {}): LinearAttack {
  const grid = opts.grid ?? rtGrid();
  if (opts.tries !== undefined && !opts.rng) throw new RangeError('rtAttack: random tries need a seeded rng');
  return (f, xb, yb, n) => {
    const D = size * size;
    let K = grid.length, params: Float32Array;
    if (opts.tries !== undefined) {
      K = opts.tries;
      params = new Float32Array(n * K * 3);
      for (let r = 0; r < n * K; r++) params.set(grid[opts.rng!.int(grid.length)], r * 3);
    } else params = gridParams(n, grid);
    const all = transformRows(engine, xb, n, size, params, K);
    const out = new Float32Array(n * D);
    for (let i = 0; i < n; i++) {
      let best = 0, bestM = Infinity;
      for (let k = 0; k < K; k++) {
        const m = yb[i] * dotRow(f, all, i * K + k);
        if (m < bestM) [bestM, best] = [m, k];
      }
      out.set(all.subarray((i * K + best) * D, (i * K + best + 1) * D), i * D);
    }
    return out;
  };
}

/** Empirical clean / L∞ (exact) / RT (grid) / union accuracy of a linear classifier on images. */
export function rtAccuracies(engine: Engine, f: LinearWeights, data: Images, epsInf: number, grid = rtGrid(), chunk = 200): RtAccuracies {
  const D = data.size * data.size, K = grid.length;
  let l1w = 0;
  for (const w of f.w) l1w += Math.abs(w);
  let clean = 0, linf = 0, rt = 0, union = 0;
  for (let start = 0; start < data.n; start += chunk) {
    const n = Math.min(chunk, data.n - start);
    const xb = data.x.subarray(start * D, (start + n) * D);
    const all = transformRows(engine, xb, n, data.size, gridParams(n, grid), K);
    for (let i = 0; i < n; i++) {
      const yi = data.y[start + i];
      const m = yi * dotRow(f, xb, i);
      let okRt = true;
      for (let k = 0; k < K && okRt; k++) okRt = yi * dotRow(f, all, i * K + k) > 0;
      const okInf = m - epsInf * l1w > 0;
      clean += +(m > 0);
      linf += +okInf;
      rt += +okRt;
      union += +(okInf && okRt);
    }
  }
  return { clean: clean / data.n, linf: linf / data.n, rt: rt / data.n, union: union / data.n };
}

/** f_chk = sign(Σ χ·x) and f_mean = sign(Σ x). */
export const fChecker = (task: RtTask): LinearWeights => ({ w: checker(task.size), bias: 0 });
export const fMean = (task: RtTask): LinearWeights => ({ w: new Float64Array(task.size * task.size).fill(1), bias: 0 });

/**
 * Closed forms of the clean and L∞ accuracy of f_chk and f_mean (RT has none: zero fill and bilinear
 * sampling; it is measured on samples). With d = size² and Σχ = 0:
 *   f_chk:  y·Σχx = c·s·d + N(0, d):  clean p·Φ(c√d) + (1−p)·Φ(−c√d); L∞ shifts by ε·d.
 *   f_mean: y·Σx = η·d + N(0, d):     clean Φ(α), L∞ Φ(α − ε√d) = Φ(−α).
 */
export function rtClosedForms(task: RtTask): { fChk: { clean: number; linf: number }; fMean: { clean: number; linf: number } } {
  const d = task.size * task.size, sd = Math.sqrt(d), eps = rtEpsInf(task), c = task.contrast;
  const chk = (shift: number) => task.p * Phi((c * d - shift) / sd) + (1 - task.p) * Phi((-c * d - shift) / sd);
  return {
    fChk: { clean: chk(0), linf: chk(eps * d) },
    fMean: { clean: Phi(task.alpha), linf: Phi(task.alpha - eps * sd) },
  };
}

