// `npm run experiment:masking` (`multirobust experiment masking`): does a model threshold its inputs? (issue 27, the paper's MNIST
// gradient-masking finding, measured directly.) Models trained against L∞ are said to learn
// first-layer filters that switch off below a pixel threshold; their loss is then flat around the
// input, first-order L1/L2 attacks stall and gradient-free ones do not. Per model, on the first n
// MNIST test images (plain JS on the checkpoint's weights, plus one engine input gradient per image):
//
//   clean / binarised   accuracy on x and on 1[x > 0.5] (a thresholding model loses nothing)
//   agreement           share of images predicted the same on x and on 1[x > 0.5]
//   conv1 off           share of conv1 responses (image × position × filter) whose ReLU is off at x
//   conv1 flat (L∞)     share of conv1 responses off for EVERY x' in the L∞ ball of 0.3 ∩ [0, 1]:
//                       b + Σ_i max(w_i·lo_i, w_i·hi_i) ≤ 0, lo = max(0, x − 0.3), hi = min(1, x + 0.3)
//                       (exact for a linear filter: the response cannot be moved by any L∞ attack)
//   zero-gradient pixels share of input pixels whose cross-entropy gradient is exactly 0
//   ‖∇x CE‖₂, ‖∇x CE‖₁  medians over the images, and the distribution of log10 ‖∇x CE‖₂ (an SVG)
//
// Shapes: images (n, 28, 28, 1) NHWC in [0, 1]; conv1.weight (C, 1, 5, 5) PyTorch layout, 'same'
// padding (2), bias (C). Deterministic (no randomness). Threading: the engine's (input gradients).
//
//   npm run experiment:masking -- [--budget paper] [--models nat,linf,…] [--checkpoints NAME=PATH,…]
//     [--n 1000] [--out runs/results/mnist] [--threads N]
//
// The command (flags, help, files): src/cli/experiments/masking.ts; `--out docs/results/mnist`
// writes the documentation's tables.
import { lossInputGrad } from '../attacks/losses.ts';
import { argmaxRows, logitsAt } from '../attacks/core.ts';
import { InputError } from '../errors.ts';
import { readSafetensors, toFloat32 } from '../io/safetensors.ts';
import type { Module } from '../nn/module.ts';
import { lineChartSvg } from '../report/plot.ts';
import { Tensor } from '../tensor.ts';
import type { ImageDataset } from '../train/data.ts';
import type { Engine } from '../wasm/engine.ts';
import { figure as fig, type Figure } from './mnist_models.ts';
import { pctNumber as pct } from '../report/format.ts';

export const FLAT_EPS = 0.3;
const HIST_LO = -8, HIST_HI = 2, HIST_BINS = 40;

export interface MaskingStats {
  name: string;
  checkpoint: string;
  n: number;
  clean: Figure;
  binarised: Figure;
  agreement: number;
  conv1Off: number;
  conv1FlatLinf: number;
  zeroGradPixels: number;
  gradL2Median: number;
  gradL1Median: number;
  /** Share of images per log10 ‖∇x CE‖₂ bin (HIST_BINS bins over [HIST_LO, HIST_HI]; below → first, above → last). */
  gradL2Histogram: { log10: number; share: number }[];
  /** Images whose gradient is exactly 0 (not in the histogram). */
  zeroGradImages: number;
}

/** conv1 responses at x: [off at x, off over the whole L∞ ball ∩ box] counts, over every position and filter. */
export function conv1Flatness(images: Float32Array, n: number, w: Float32Array, b: Float32Array, eps = FLAT_EPS): { off: number; flat: number; total: number } {
  const H = 28, W = 28, K = 5, P = 2, C = b.length;
  let off = 0, flat = 0;
  for (let i = 0; i < n; i++) {
    const x = images.subarray(i * H * W, (i + 1) * H * W);
    for (let oy = 0; oy < H; oy++) {
      for (let ox = 0; ox < W; ox++) {
        for (let c = 0; c < C; c++) {
          let at = b[c], upper = b[c];
          for (let ky = 0; ky < K; ky++) {
            const iy = oy + ky - P;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < K; kx++) {
              const ix = ox + kx - P;
              if (ix < 0 || ix >= W) continue;
              const wi = w[((c * K) + ky) * K + kx], xi = x[iy * W + ix];
              at += wi * xi;
              upper += wi > 0 ? wi * Math.min(1, xi + eps) : wi * Math.max(0, xi - eps);
            }
          }
          if (at <= 0) off++;
          if (upper <= 0) flat++;
        }
      }
    }
  }
  return { off, flat, total: n * H * W * C };
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Every measure of the header for one model on the first n images of `test`. */
export function measureMasking(engine: Engine, model: Module, weights: { w: Float32Array; b: Float32Array }, test: ImageDataset, n: number, name: string, checkpoint: string): MaskingStats {
  const D = test.height * test.width * test.channels, batch = 100;
  let clean = 0, bin = 0, agree = 0, zeroPix = 0, zeroImages = 0;
  const l2: number[] = [], l1: number[] = [];
  const hist = new Array<number>(HIST_BINS).fill(0);
  for (let start = 0; start < n; start += batch) {
    const end = Math.min(n, start + batch), B = end - start;
    const xs = test.images.subarray(start * D, end * D), y = test.labels.subarray(start, end);
    const xb = Float32Array.from(xs, (v) => (v > 0.5 ? 1 : 0));
    engine.arena.scope(() => {
      const za = logitsAt(model, Tensor.from(engine, xs, [B, test.height, test.width, test.channels]));
      const zb = logitsAt(model, Tensor.from(engine, xb, [B, test.height, test.width, test.channels]));
      const g = lossInputGrad(model, Tensor.from(engine, xs, [B, test.height, test.width, test.channels]), y, 'ce').g.toArray();
      const predA = argmaxRows(za, B), predB = argmaxRows(zb, B);
      for (let i = 0; i < B; i++) {
        const pa = predA[i], pb = predB[i];
        clean += +(pa === y[i]);
        bin += +(pb === y[i]);
        agree += +(pa === pb);
        let s2 = 0, s1 = 0;
        for (let j = i * D; j < (i + 1) * D; j++) {
          s2 += g[j] * g[j];
          s1 += Math.abs(g[j]);
          zeroPix += +(g[j] === 0);
        }
        const norm = Math.sqrt(s2);
        l2.push(norm);
        l1.push(s1);
        if (norm === 0) zeroImages++;
        else hist[Math.min(HIST_BINS - 1, Math.max(0, Math.floor(((Math.log10(norm) - HIST_LO) / (HIST_HI - HIST_LO)) * HIST_BINS)))]++;
      }
    });
  }
  const c = conv1Flatness(test.images, n, weights.w, weights.b);
  const width = (HIST_HI - HIST_LO) / HIST_BINS;
  return {
    name, checkpoint, n, clean: fig(clean, n), binarised: fig(bin, n), agreement: agree / n,
    conv1Off: c.off / c.total, conv1FlatLinf: c.flat / c.total, zeroGradPixels: zeroPix / (n * D),
    gradL2Median: median(l2), gradL1Median: median(l1),
    gradL2Histogram: hist.map((k, i) => ({ log10: +(HIST_LO + (i + 0.5) * width).toFixed(3), share: k / n })), zeroGradImages: zeroImages,
  };
}

/** conv1's weights (C, 1, 5, 5) and bias (C) from a checkpoint with PyTorch names. */
export function conv1Weights(path: string): { w: Float32Array; b: Float32Array } {
  const t = readSafetensors(path).tensors;
  const w = t.get('conv1.weight'), b = t.get('conv1.bias');
  if (!w || !b) throw new InputError(`${path}: no conv1.weight / conv1.bias (not the paper's CNN)`);
  if (w.shape.join() !== `${b.shape[0]},1,5,5`) throw new InputError(`${path}: conv1.weight has shape [${w.shape}], expected [C, 1, 5, 5]`);
  return { w: toFloat32(w, 'conv1.weight'), b: toFloat32(b, 'conv1.bias') };
}

const pcFig = (f: Figure) => `${pct(f.accuracy)} [${pct(f.interval[0])}, ${pct(f.interval[1])}]`;

export function maskingMarkdown(stats: MaskingStats[], svgName: string | null): string {
  const L = [
    `| model | clean | binarised at 0.5 | same prediction | conv1 off at x | conv1 off over the whole L∞ ${FLAT_EPS} ball | zero-gradient pixels | median ‖∇x CE‖₂ | median ‖∇x CE‖₁ | images with ∇ = 0 |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...stats.map((s) => `| ${s.name} | ${pcFig(s.clean)} | ${pcFig(s.binarised)} | ${pct(s.agreement)} | ${pct(s.conv1Off)} | ${pct(s.conv1FlatLinf)} | ${pct(s.zeroGradPixels)} | ${s.gradL2Median.toExponential(2)} | ${s.gradL1Median.toExponential(2)} | ${s.zeroGradImages} of ${s.n} |`),
  ];
  if (svgName) L.push('', `![distribution of log10 ‖∇x CE‖₂ per model](${svgName})`);
  return L.join('\n');
}

export async function maskingSvg(stats: MaskingStats[]): Promise<string> {
  return lineChartSvg({
    title: 'input-gradient norms on clean test images', xLabel: 'log10 ‖∇x cross-entropy‖₂', yLabel: 'share of images',
    series: stats.map((s) => ({ name: s.name, points: s.gradL2Histogram.map((h) => ({ x: h.log10, y: h.share })) })),
    xDomain: [HIST_LO, HIST_HI],
  });
}
