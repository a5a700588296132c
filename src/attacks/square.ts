// Square Attack (Andriushchenko, Croce, Flammarion, Hein, ECCV 2020) for L∞, L2 and L1, as
// AutoAttack runs it (`fra31/auto-attack` autoattack/square.py, `attack_single_run`; paper.md
// §6.2). Score-based: the model is seen only through its logits, one forward per query.
//
// Per example, minimise the margin loss m(x) = z_y − max_{j≠y} z_j by random search:
//   x_best ← the initial point (query 1); then each iteration proposes one candidate x_new built
//   from x_best, queries it, and accepts it (x_best ← x_new) when m falls or x_new is
//   misclassified. An example stops once misclassified (with AttackBatch.earlyStop false it goes
//   on lowering its margin until its queries run out), or when its queries run out.
// Window side: p = squareP(it) (AutoAttack's piecewise schedule, the iteration rescaled as
//   it·10000/queries), s = round(√(p·n_features/c)) (Python's round, half to even), capped at
//   min(h, w); L∞: s ≥ 1; L2 and L1: s ≥ 3 and odd. Positions are drawn in [0, h − s) as
//   AutoAttack's random_int (its last position is never drawn).
//   L∞  start: vertical stripes, x0 + ε·(±1 per column and channel), clipped to [0, 1].
//       step:  one s×s window (all channels) of x_best moved by ±2ε (a sign per channel), clipped
//              to the ε-ball and [0, 1].
//   L2  start: a 5×5 grid of s0×s0 blocks (s0 = ⌊h/5⌋) each holding ±η(s0) (a sign per channel),
//              η the meta-pseudo-Gaussian pattern (metaPseudoGaussian), rescaled to ‖δ‖₂ = ε,
//              then clipped to the box.
//       step:  two windows W1, W2; W1 ← ±η(s) + δ_W1/‖δ_W1‖ rescaled so that the mass of W1 ∪ W2
//              (plus what ε leaves unused) lands in W1, and W2 ← 0 (the norm stays ε); then
//              δ ← ε·δ/‖δ‖₂ and the box clip.
//   L1  AutoAttack's L1 version: the same grid start (η with weights 1/(k+1)⁴, unit L1 mass per
//       block) and the same two-window move with L1 masses; every candidate (and the start) is
//       projected exactly onto {‖δ‖₁ ≤ ε·(1 − 1e-6)} ∩ box (the projL1Box kernel, batched).
// The pattern η(s) (AutoAttack's `eta`): the top ⌊s/2⌋ rows hold +rectangles(⌊s/2⌋, s), the
// bottom rows −rectangles(s − ⌊s/2⌋, s), each a sum of nested centred rectangles with weights
// 1/(k+1)² (L2) or 1/(k+1)⁴ (L1), each half normalised, then the whole (unit L2 / L1 norm);
// transposed with probability ½ at each use.
//
// Batching: each iteration gathers the candidates of the examples still robust into one
// preallocated arena buffer and runs ONE forward; fooled examples leave the batch. Randomness:
// example id draws from its own Rng keyed by (seed, restart, id), and every iteration index is
// the same for every example of a run, so an example's result does not depend on its batch (the
// engine's forward gives each row the same bits whatever the batch). JS work per iteration is
// O(B·D) over preallocated arrays (no per-coordinate allocation).
// Queries: per example, the start counts 1 and each iteration 1; at most `queries` in all
// (AutoAttack runs n_queries iterations after the start: one query more).
// NOTE: "misclassified" is the engine's rule (argmax, first maximum, ≠ y; core.ts scoreLogits)
// rather than AutoAttack's margin ≤ 0: they differ only on an exact tie, and this way the
// tracker's flag and the attack's agree. AutoAttack draws one window position (and one L∞ sign
// vector) per iteration for the whole batch; here each example draws its own (as the original
// square-attack repository), which the per-example streams require.
// Tracking: each example's final x_best is offered to the WorstCase tracker with the logits that
// scored it, so a point found misclassified is what the tracker keeps. Restarts (runAttack) rerun
// the examples still robust with new streams (restart r keys them).
// Measured (2 threads, the 2 cores shared with other jobs): the small test CNN (98.3 % clean on
// its 60 examples), 1,000 queries, seed 7: robust 0.0 % at L∞ 0.3, 26.7 % at L2 2, 65.0 % at
// L1 10. Speed against plain forwards at batch 100 (median of 3 rounds): the paper's CNN
// 0.96 (L∞), 0.99 (L2), 0.92 (L1); the small test CNN (a forward ~14× cheaper) 0.93, 0.87, 0.70
// (L1 pays one projection kernel call per iteration).
// Shapes: x0 (B, H, W, C) NHWC in [0, 1]; candidates (B', H, W, C) in the arena; x_best, x0
// copies (B, D) in JS; logits (B, K).
import { projL1Box } from '../kernels/proj.ts';
import { Rng } from '../nn/init.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';
import { checkCount, parseEps, type Attack } from './attack.ts';
import { logitsAt, mixSeed, type AttackBatch, type Classifier, type WorstCase } from './core.ts';
import { enforceNorm, l2Threat, linfThreat, slideThreat } from './pgd.ts';
import { SEED_OPTION, type KindSpec, type OptionSpec, type Settings } from './schema.ts';

export type SquareThreat = 'Linf' | 'L2' | 'L1';

export interface SquareOptions {
  /** Budget: a number or a fraction string such as '8/255'. */
  eps: number | string;
  /** Queries per example and restart, the initial point included (default 5000). */
  maxQueries?: number;
  /** Initial fraction p of the features a window covers (default 0.8, AutoAttack's). */
  pinit?: number;
  /** Runs from new random starts on the examples still robust (default 1). */
  restarts?: number;
  seed?: number;
}

/**
 * AutoAttack's p schedule (`p_selection` with resc_schedule): iteration `it` (0-based) of a run
 * of `nQueries` is rescaled to ⌊it/nQueries·10000⌋; p_init up to 10, /2 up to 50, /4 up to 200,
 * /8 up to 500, /16 up to 1000, /32 up to 2000, /64 up to 4000, /128 up to 6000, /256 up to 8000,
 * /512 after.
 */
export function squareP(it: number, nQueries: number, pInit: number): number {
  const i = Math.trunc((it / nQueries) * 10000);
  if (i <= 10) return pInit;
  if (i <= 50) return pInit / 2;
  if (i <= 200) return pInit / 4;
  if (i <= 500) return pInit / 8;
  if (i <= 1000) return pInit / 16;
  if (i <= 2000) return pInit / 32;
  if (i <= 4000) return pInit / 64;
  if (i <= 6000) return pInit / 128;
  if (i <= 8000) return pInit / 256;
  return pInit / 512;
}

/** Python's round() for x ≥ 0: to the nearest integer, halves to even. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x), d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The window side for p on an h×w×c image: L∞ ≥ 1; L2/L1 ≥ 3 and odd; at most min(h, w). */
export function squareSide(threat: SquareThreat, p: number, h: number, w: number, c: number): number {
  let s = roundHalfEven(Math.sqrt((p * (c * h * w)) / c));
  if (threat === 'Linf') s = Math.max(s, 1);
  else {
    s = Math.max(s, 3);
    if (s % 2 === 0) s += 1;
  }
  return Math.min(s, Math.min(h, w));
}

/** AutoAttack's eta_rectangles(x, y): nested centred rectangles, weights 1/(k+1)^power, normalised (L2 for power 2, L1 for 4). */
function rectangles(x: number, y: number, power: number, out: Float64Array, offset: number, stride: number): void {
  const xc = (x >> 1) + 1, yc = (y >> 1) + 1;
  let r0 = xc - 1, c0 = yc - 1;
  for (let k = 0; k < Math.max(xc, yc); k++) {
    const wgt = 1 / (k + 1) ** power;
    for (let r = Math.max(r0, 0); r < Math.min(r0 + 2 * k + 1, x); r++) {
      for (let q = Math.max(c0, 0); q < Math.min(c0 + 2 * k + 1, y); q++) out[offset + r * stride + q] += wgt;
    }
    r0--;
    c0--;
  }
  let n = 0;
  for (let r = 0; r < x; r++) for (let q = 0; q < y; q++) { const v = out[offset + r * stride + q]; n += power === 2 ? v * v : Math.abs(v); }
  n = power === 2 ? Math.sqrt(n) : n;
  if (n > 0) for (let r = 0; r < x; r++) for (let q = 0; q < y; q++) out[offset + r * stride + q] /= n;
}

/**
 * The meta-pseudo-Gaussian pattern η(s) (s×s, row-major; AutoAttack's `eta` before its random
 * transpose): top ⌊s/2⌋ rows positive, the rest negative, unit L2 norm (L2) or unit L1 mass (L1).
 */
export function metaPseudoGaussian(s: number, norm: 'L2' | 'L1'): Float64Array {
  if (!Number.isInteger(s) || s < 1) throw new RangeError(`metaPseudoGaussian: s must be an integer ≥ 1, got ${s}`);
  const power = norm === 'L2' ? 2 : 4;
  const out = new Float64Array(s * s);
  const top = s >> 1;
  rectangles(top, s, power, out, 0, s);
  rectangles(s - top, s, power, out, top * s, s);
  let n = 0;
  for (let j = top * s; j < s * s; j++) out[j] = -out[j];
  for (let j = 0; j < s * s; j++) n += norm === 'L2' ? out[j] * out[j] : Math.abs(out[j]);
  n = norm === 'L2' ? Math.sqrt(n) : n;
  for (let j = 0; j < s * s; j++) out[j] /= n;
  return out;
}

/** η(s) and its transpose, cached per side. */
class EtaCache {
  private readonly cache = new Map<number, [Float64Array, Float64Array]>();
  constructor(private readonly norm: 'L2' | 'L1') {}
  get(s: number, transpose: boolean): Float64Array {
    let e = this.cache.get(s);
    if (!e) {
      const a = metaPseudoGaussian(s, this.norm), t = new Float64Array(s * s);
      for (let r = 0; r < s; r++) for (let q = 0; q < s; q++) t[q * s + r] = a[r * s + q];
      e = [a, t];
      this.cache.set(s, e);
    }
    return e[transpose ? 1 : 0];
  }
}

const sign = (rng: Rng): number => (rng.next() < 0.5 ? -1 : 1);

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/** What one run of Square returns: per example the best point, its logits and the queries made. */
export interface SquareRun {
  /** (B, D) best points. */
  xBest: Float32Array;
  /** (B, K) logits at xBest. */
  logits: Float32Array;
  /** 1 where xBest is misclassified. */
  fooled: Uint8Array;
  /** Queries per example (the start included). */
  queries: Int32Array;
}

/**
 * The per-example state of one run and its steps, each a small method over preallocated arrays
 * (kept out of the driver loop so that V8 optimises each on its own).
 */
class SquareState {
  readonly D: number;
  /** (B, D) the best point of each example. */
  readonly xb: Float32Array;
  /** ‖x_best − x0‖₂ (L2) or ‖·‖₁ (L1) per example. */
  readonly bestNorm: Float64Array;
  readonly rngs: Rng[];
  readonly eta: EtaCache | null;
  // One window move's scratch: per channel masses and signs, the new W1 values (s·s·C).
  private readonly nw1: Float64Array;
  private readonly nwU: Float64Array;
  private readonly nn: Float64Array;
  private readonly sg: Float64Array;
  private readonly win: Float64Array;
  private vh = 0;
  private vw = 0;
  private vh2 = 0;
  private vw2 = 0;
  /** L2: ‖δ‖₂ after the move (before the rescaling to ε). */
  private total = 0;

  constructor(readonly threat: SquareThreat, readonly eps: number, readonly x0: Float32Array, readonly H: number, readonly W: number, readonly C: number, ids: Int32Array, seed: number, restart: number) {
    this.D = H * W * C;
    const B = ids.length;
    this.xb = new Float32Array(B * this.D);
    this.bestNorm = new Float64Array(B);
    this.rngs = Array.from(ids, (id) => new Rng(mixSeed(seed, restart, id)));
    this.eta = threat === 'Linf' ? null : new EtaCache(threat);
    this.nw1 = new Float64Array(C);
    this.nwU = new Float64Array(C);
    this.nn = new Float64Array(C);
    this.sg = new Float64Array(C);
    this.win = new Float64Array(H * W * C);
  }

  /** L∞ start of example i: x0 + ε·(±1 per column and channel), clipped to the box. */
  startLinf(i: number): void {
    const { W, C, D, eps, x0, xb } = this, rng = this.rngs[i], o = i * D, row = this.win;
    for (let q = 0; q < W * C; q++) row[q] = eps * sign(rng);
    for (let j = 0; j < D; j++) xb[o + j] = clamp01(x0[o + j] + row[j % (W * C)]);
  }

  /** L2/L1 start of example i: the 5×5 grid of ±η(s0) blocks as δ in xb's row (L2: then x0 + ε·δ/‖δ‖₂, clipped). */
  startGrid(i: number): void {
    const { H, W, C, D, eps, x0, xb, sg } = this, rng = this.rngs[i], o = i * D;
    const s0 = Math.max(1, Math.floor(H / 5)), sp = Math.floor((H - s0 * 5) / 2);
    xb.fill(0, o, o + D);
    for (let bh = 0, vh = sp; bh < Math.floor(H / s0); bh++, vh += s0) {
      for (let bw = 0, vw = sp; bw < Math.floor(W / s0); bw++, vw += s0) {
        const e = this.eta!.get(s0, rng.next() > 0.5);
        for (let c = 0; c < C; c++) sg[c] = sign(rng);
        for (let r = 0; r < s0 && vh + r < H; r++) {
          for (let q = 0; q < s0 && vw + q < W; q++) {
            const j = o + ((vh + r) * W + vw + q) * C;
            for (let c = 0; c < C; c++) xb[j + c] += e[r * s0 + q] * sg[c];
          }
        }
      }
    }
    if (this.threat !== 'L2') return;
    let n = 0;
    for (let j = o; j < o + D; j++) n += xb[j] * xb[j];
    const f = eps / (Math.sqrt(n) + 1e-12);
    for (let j = o; j < o + D; j++) xb[j] = clamp01(x0[j] + xb[j] * f);
  }

  /** ‖x_best − x0‖ of example i (L2 or L1). */
  normOf(i: number): number {
    const { D, x0, xb } = this, o = i * D;
    let n = 0;
    if (this.threat === 'L2') {
      for (let j = o; j < o + D; j++) { const d = xb[j] - x0[j]; n += d * d; }
      return Math.sqrt(n);
    }
    for (let j = o; j < o + D; j++) n += Math.abs(xb[j] - x0[j]);
    return n;
  }

  /** L∞ candidate of example i (window side s) into x at offset ko: one s×s window moved by ±2ε, clipped to the ball and box. */
  candLinf(i: number, s: number, x: Float32Array, ko: number): void {
    const { H, W, C, D, eps, x0, xb, sg } = this, rng = this.rngs[i], o = i * D;
    const vh = rng.int(H - s), vw = rng.int(W - s);
    for (let c = 0; c < C; c++) sg[c] = 2 * eps * sign(rng);
    x.set(xb.subarray(o, o + D), ko);
    for (let r = vh; r < vh + s; r++) {
      for (let q = vw; q < vw + s; q++) {
        const j = (r * W + q) * C;
        for (let c = 0; c < C; c++) {
          const a = x0[o + j + c];
          let v = xb[o + j + c] + sg[c];
          v = v < a - eps ? a - eps : v > a + eps ? a + eps : v;
          x[ko + j + c] = clamp01(v);
        }
      }
    }
  }

  /**
   * L2/L1: draws windows W1, W2 for example i and computes W1's new values (in win, scaled):
   * ±η(s) + δ_W1/‖δ_W1‖, rescaled per channel to the mass of W1 ∪ W2 plus what ε leaves unused.
   */
  private massMove(i: number, s: number): void {
    const { H, W, C, D, eps, x0, xb, sg, nw1, nwU, nn, win } = this, rng = this.rngs[i], o = i * D;
    const l2 = this.threat === 'L2';
    const vh = rng.int(H - s), vw = rng.int(W - s), vh2 = rng.int(H - s), vw2 = rng.int(W - s);
    this.vh = vh; this.vw = vw; this.vh2 = vh2; this.vw2 = vw2;
    const e = this.eta!.get(s, rng.next() > 0.5);
    for (let c = 0; c < C; c++) { sg[c] = sign(rng); nw1[c] = 0; nwU[c] = 0; nn[c] = 0; }
    for (let r = 0; r < s; r++) {
      for (let q = 0; q < s; q++) {
        const j = o + ((vh + r) * W + vw + q) * C;
        for (let c = 0; c < C; c++) {
          const d = xb[j + c] - x0[j + c];
          nw1[c] += l2 ? d * d : Math.abs(d);
        }
      }
    }
    for (let c = 0; c < C; c++) nwU[c] = nw1[c];
    for (let r = vh2; r < vh2 + s; r++) {
      const inR = r >= vh && r < vh + s;
      for (let q = vw2; q < vw2 + s; q++) {
        if (inR && q >= vw && q < vw + s) continue;
        const j = o + (r * W + q) * C;
        for (let c = 0; c < C; c++) {
          const d = xb[j + c] - x0[j + c];
          nwU[c] += l2 ? d * d : Math.abs(d);
        }
      }
    }
    if (l2) for (let c = 0; c < C; c++) { nw1[c] = Math.sqrt(nw1[c]); nwU[c] = Math.sqrt(nwU[c]); }
    for (let r = 0; r < s; r++) {
      for (let q = 0; q < s; q++) {
        const j = o + ((vh + r) * W + vw + q) * C, t = (r * s + q) * C;
        for (let c = 0; c < C; c++) {
          const v = e[r * s + q] * sg[c] + (xb[j + c] - x0[j + c]) / (1e-12 + nw1[c]);
          win[t + c] = v;
          nn[c] += l2 ? v * v : Math.abs(v);
        }
      }
    }
    const ni = this.bestNorm[i];
    let tot = ni * ni;
    for (let c = 0; c < C; c++) {
      // nn[c] becomes the per-channel factor.
      nn[c] = l2
        ? Math.sqrt(Math.max(eps * eps - ni * ni, 0) / C + nwU[c] * nwU[c]) / (1e-12 + Math.sqrt(nn[c]))
        : ((Math.max(eps - ni, 0) / C + nwU[c]) * C) / (1e-12 + nn[c]);
      tot -= nwU[c] * nwU[c];
    }
    tot = Math.max(tot, 0);
    for (let t = 0; t < s * s * C; t += C) {
      for (let c = 0; c < C; c++) {
        const v = win[t + c] * nn[c];
        win[t + c] = v;
        tot += v * v;
      }
    }
    // L2: ‖δ_new‖² = ‖δ‖² − (mass of W1 ∪ W2) + (mass of the new W1).
    this.total = Math.sqrt(tot);
  }

  /** L2 candidate of example i into x at offset ko: the mass move, then x0 + ε·δ/‖δ‖₂ clipped to the box. */
  candL2(i: number, s: number, x: Float32Array, ko: number): void {
    this.massMove(i, s);
    const { W, C, D, eps, x0, xb, win, vh, vw, vh2, vw2 } = this, o = i * D;
    const f = eps / (this.total + 1e-12);
    for (let j = 0; j < D; j++) {
      const a = x0[o + j];
      x[ko + j] = clamp01(a + (xb[o + j] - a) * f);
    }
    for (let r = vh2; r < vh2 + s; r++) {
      const j = (r * W + vw2) * C;
      x.set(x0.subarray(o + j, o + j + s * C), ko + j);
    }
    for (let r = 0; r < s; r++) {
      const j = ((vh + r) * W + vw) * C, t = r * s * C;
      for (let q = 0; q < s * C; q++) x[ko + j + q] = clamp01(x0[o + j + q] + win[t + q] * f);
    }
  }

  /** L1 candidate δ of example i into z at offset ko (projected afterwards): the mass move. */
  candL1(i: number, s: number, z: Float32Array, ko: number): void {
    this.massMove(i, s);
    const { W, C, D, x0, xb, win, vh, vw, vh2, vw2 } = this, o = i * D;
    for (let j = 0; j < D; j++) z[ko + j] = xb[o + j] - x0[o + j];
    for (let r = vh2; r < vh2 + s; r++) z.fill(0, ko + (r * W + vw2) * C, ko + (r * W + vw2 + s) * C);
    for (let r = 0; r < s; r++) {
      const j = ko + ((vh + r) * W + vw) * C, t = r * s * C;
      for (let q = 0; q < s * C; q++) z[j + q] = win[t + q];
    }
  }
}

/** Per row k of logits (n, K): the margin z_y − max_{j≠y} z_j, and 1 where argmax (first maximum) ≠ y. */
function scoreRows(logits: Float32Array, n: number, K: number, y: Int32Array, act: Int32Array, margin: Float64Array, wrong: Uint8Array): void {
  for (let k = 0; k < n; k++) {
    const o = k * K, yi = y[act[k]];
    let arg = 0, max = -Infinity, other = -Infinity;
    for (let c = 0; c < K; c++) {
      const v = logits[o + c];
      if (v > max) { max = v; arg = c; }
      if (c !== yi && v > other) other = v;
    }
    margin[k] = logits[o + yi] - other;
    wrong[k] = arg !== yi ? 1 : 0;
  }
}

/** x = clamp(x0 + z, 0, 1) over n·D values. */
function addClamp(x: Float32Array, x0: Float32Array, z: Float32Array, len: number): void {
  for (let j = 0; j < len; j++) x[j] = clamp01(x0[j] + z[j]);
}

/**
 * One run of Square (AutoAttack's attack_single_run) on the examples of x0 (B, H, W, C) with
 * labels y and global ids; example id draws from Rng(mixSeed(seed, restart, id)).
 */
export function squareRun(engine: Engine, model: Classifier, x0t: Tensor, y: Int32Array, ids: Int32Array, cfg: { threat: SquareThreat; eps: number; queries: number; pinit: number; seed: number; restart?: number; stopWhenFooled?: boolean }): SquareRun {
  if (x0t.shape.length !== 4) throw new RangeError(`square: x0 must be (B, H, W, C) images, got shape [${x0t.shape}]`);
  const [B, H, W, C] = x0t.shape;
  const D = H * W * C;
  const { threat, eps, queries: maxQueries, pinit } = cfg;
  // With stopWhenFooled false (AttackBatch.earlyStop: false), every example makes every query,
  // a fooled one still accepting candidates that lower its margin.
  const stop = cfg.stopWhenFooled ?? true;
  const x0 = x0t.toArray();
  const st = new SquareState(threat, eps, x0, H, W, C, ids, cfg.seed, cfg.restart ?? 0);
  const xb = st.xb;
  const margin = new Float64Array(B).fill(Infinity);
  const fooled = new Uint8Array(B);
  const queries = new Int32Array(B);
  const mRow = new Float64Array(B), wRow = new Uint8Array(B);
  let logitsBest = new Float32Array(0);
  if (B === 0) return { xBest: xb, logits: logitsBest, fooled, queries };

  engine.arena.scope(() => {
    const X = engine.arena.allocF32(B * D);
    // L1: the deltas to project, the x0 rows of the batch (in the active order) and ε·(1 − 1e-6).
    const Z = threat === 'L1' ? engine.arena.allocF32(B * D) : null;
    const X0a = threat === 'L1' ? engine.arena.allocF32(B * D) : null;
    const E = threat === 'L1' ? engine.arena.allocF32(B) : null;
    if (E) engine.view(E).fill(eps * (1 - 1e-6));
    /** The logits (n, K) of the first n rows of X. */
    const forward = (n: number): Float32Array => engine.arena.scope(() => logitsAt(model, new Tensor(engine, { ptr: X.ptr, length: n * D }, [n, H, W, C])));
    /** L1: projects the first n rows of Z exactly (x0 rows in X0a), then X = clamp(x0 + z). */
    const projectL1 = (n: number): void => {
      projL1Box(engine, { batch: n, dim: D, delta: Z!, x0: X0a!, eps: E! });
      addClamp(engine.view(X), engine.view(X0a!), engine.view(Z!), n * D);
    };
    const fillX0a = (act: Int32Array, n: number): void => {
      const a = engine.view(X0a!);
      for (let k = 0; k < n; k++) a.set(x0.subarray(act[k] * D, (act[k] + 1) * D), k * D);
    };

    // The start: query 1 of every example.
    const act = Int32Array.from({ length: B }, (_, i) => i);
    for (let i = 0; i < B; i++) {
      if (threat === 'Linf') st.startLinf(i);
      else st.startGrid(i);
    }
    if (threat === 'L1') {
      engine.view(Z!).set(xb);
      fillX0a(act, B);
      projectL1(B);
      xb.set(engine.view(X));
    } else engine.view(X).set(xb);
    const logits0 = forward(B);
    const K = logits0.length / B;
    logitsBest = logits0.slice();
    scoreRows(logits0, B, K, y, act, mRow, wRow);
    for (let i = 0; i < B; i++) {
      queries[i] = 1;
      margin[i] = mRow[i];
      fooled[i] = wRow[i];
      if (threat !== 'Linf') st.bestNorm[i] = st.normOf(i);
    }

    // The iterations: one candidate per example still robust, one forward.
    let n = 0;
    for (let i = 0; i < B; i++) if (!fooled[i] || !stop) act[n++] = i;
    let x0aStale = true;
    for (let it = 0; it < maxQueries - 1 && n > 0; it++) {
      const s = squareSide(threat, squareP(it, maxQueries, pinit), H, W, C);
      if (threat === 'L1') {
        const z = engine.view(Z!);
        for (let k = 0; k < n; k++) st.candL1(act[k], s, z, k * D);
        if (x0aStale) fillX0a(act, n);
        x0aStale = false;
        projectL1(n);
      } else {
        const x = engine.view(X);
        if (threat === 'Linf') for (let k = 0; k < n; k++) st.candLinf(act[k], s, x, k * D);
        else for (let k = 0; k < n; k++) st.candL2(act[k], s, x, k * D);
      }
      const logits = forward(n);
      scoreRows(logits, n, K, y, act, mRow, wRow);
      const xv = engine.view(X);
      let left = 0;
      for (let k = 0; k < n; k++) {
        const i = act[k];
        queries[i]++;
        // Accept when the margin falls or the candidate is misclassified.
        if ((wRow[k] && !fooled[i]) || mRow[k] < margin[i]) {
          margin[i] = mRow[k];
          xb.set(xv.subarray(k * D, (k + 1) * D), i * D);
          logitsBest.set(logits.subarray(k * K, (k + 1) * K), i * K);
          if (threat !== 'Linf') st.bestNorm[i] = st.normOf(i);
          if (wRow[k]) fooled[i] = 1;
          if (wRow[k] && stop) continue;
        }
        act[left++] = i;
      }
      if (left !== n) x0aStale = true;
      n = left;
    }
  });
  return { xBest: xb, logits: logitsBest, fooled, queries };
}

/** Square Attack for one norm (AutoAttack's version; see the header). */
export class Square implements Attack {
  readonly eps: number;
  readonly maxQueries: number;
  readonly pinit: number;
  readonly restarts: number;
  readonly seed: number;
  readonly auxWidth = 0;
  readonly targetable = false;
  readonly name: string;

  constructor(readonly threat: SquareThreat, opts: SquareOptions, name?: string) {
    if (threat !== 'Linf' && threat !== 'L2' && threat !== 'L1') throw new RangeError(`square: threat must be 'Linf', 'L2' or 'L1', got '${threat}'`);
    this.name = name ?? `square-${threat.toLowerCase()}:${opts.eps}`;
    this.eps = parseEps(opts.eps);
    this.maxQueries = checkCount(`${this.name}: queries`, opts.maxQueries, 5000);
    this.pinit = opts.pinit ?? 0.8;
    if (typeof this.pinit !== 'number' || !(this.pinit > 0 && this.pinit <= 1)) throw new RangeError(`${this.name}: pinit must be a number in (0, 1], got ${opts.pinit}`);
    this.restarts = checkCount(`${this.name}: restarts`, opts.restarts, 1);
    this.seed = checkCount(`${this.name}: seed`, opts.seed, 0, 0);
  }

  cost(): { gradEvals: number; forwards: number } {
    return { gradEvals: 0, forwards: this.maxQueries };
  }

  runOnce(b: AttackBatch, track: WorstCase, restart: number, rows: Int32Array): { gradEvals: number; forwards: number } {
    const { engine } = b;
    const run = squareRun(engine, b.model, b.x0, b.y, b.ids, { threat: this.threat, eps: this.eps, queries: this.maxQueries, pinit: this.pinit, seed: this.seed, restart, stopWhenFooled: b.earlyStop ?? true });
    let forwards = 0;
    for (let i = 0; i < run.queries.length; i++) forwards += run.queries[i];
    if (run.queries.length > 0) {
      engine.arena.scope(() => {
        track.offer(Tensor.from(engine, run.xBest, b.x0.shape), run.logits, b.y, rows);
      });
    }
    return { gradEvals: 0, forwards };
  }

  enforce(b: AttackBatch, track: WorstCase): void {
    enforceNorm(b, track, this.threat === 'Linf' ? linfThreat : this.threat === 'L2' ? l2Threat : slideThreat(99, 'exact'), this.eps);
  }

  settings(): Settings {
    return { queries: this.maxQueries, p_init: this.pinit, restarts: this.restarts, loss: 'margin', seed: this.seed };
  }
}

const SQUARE_OPTIONS: readonly OptionSpec[] = [
  { key: 'queries', field: 'maxQueries', type: 'int', min: 1, default: '5000', help: 'queries per example and restart, the initial point included' },
  { key: 'pinit', type: 'number', min: 0, max: 1, default: '0.8', help: "p_init in (0, 1]: the first windows' share of the features (AutoAttack's schedule shrinks it)" },
  { key: 'restarts', type: 'int', min: 1, default: '1', help: 'runs from new random starts on the examples still robust' },
  SEED_OPTION,
];

/** Token kinds of the Square attack (parse.ts). None takes the CLI's --steps/--restarts. */
export const SQUARE_KINDS: KindSpec[] = [
  {
    kind: 'square-linf', summary: "Square attack (L∞, score-based, AutoAttack's version): random ±2ε windows, margin loss", positional: 'eps',
    options: SQUARE_OPTIONS,
    build: (o, t) => new Square('Linf', o as unknown as SquareOptions, t),
  },
  {
    kind: 'square-l2', summary: "Square attack (L2, score-based, AutoAttack's version): mass moves between two windows of pseudo-Gaussian bumps", positional: 'eps',
    options: SQUARE_OPTIONS,
    build: (o, t) => new Square('L2', o as unknown as SquareOptions, t),
  },
  {
    kind: 'square-l1', summary: "Square attack (L1, score-based, AutoAttack's version): two-window moves, each candidate projected exactly onto the L1 ball ∩ box", positional: 'eps',
    options: SQUARE_OPTIONS,
    build: (o, t) => new Square('L1', o as unknown as SquareOptions, t),
  },
];
