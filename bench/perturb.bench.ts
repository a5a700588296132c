// npm run bench:perturb — exact L1 and L1∩box projections of 100×784 and the spatial transform
// forward + backward (to the image and to (θ, tx, ty)) of 100×28×28×1: WASM (SIMD and scalar twins)
// against straightforward TS implementations of the same algorithms (TS Michelot / bracket-secant
// for the SIMD kernels, TS sort-based for the scalar twins, TS bilinear in three passes like the three
// kernels, plus a fused one-pass TS printed for context). Every output is validated against the TS
// one before anything is timed. Single thread (engines with threads: 1).
import { Bench } from 'tinybench';
import { projL1, projL1Box } from '../src/kernels/proj.ts';
import { spatialBackwardInput, spatialBackwardParams, spatialForward } from '../src/kernels/spatial.ts';
import type { Engine } from '../src/wasm/engine.ts';
import { loadEngine } from '../src/wasm/load.ts';
import { fmt, markdownTable, medianMs, randomArray, seeded, validate } from './_util.ts';

const B = 100, D = 784, H = 28, W = 28;

// ---------------------------------------------------------------- TS implementations (float32 I/O)

/** L1 ball, Michelot's variable fixing (the SIMD kernel's algorithm). */
function tsL1Michelot(delta: Float32Array, eps: Float32Array, out: Float32Array): void {
  for (let n = 0; n < B; n++) {
    const o = n * D, e = eps[n];
    let sum = 0;
    for (let i = 0; i < D; i++) sum += Math.abs(delta[o + i]);
    if (sum <= e) { out.set(delta.subarray(o, o + D), o); continue; }
    let count = D, theta = (sum - e) / count;
    for (;;) {
      let s = 0, c = 0;
      for (let i = 0; i < D; i++) { const a = Math.abs(delta[o + i]); if (a > theta) { s += a; c++; } }
      if (c >= count) break;
      count = c; theta = (s - e) / c;
    }
    for (let i = 0; i < D; i++) { const v = delta[o + i]; out[o + i] = Math.sign(v) * Math.max(Math.abs(v) - theta, 0); }
  }
}

/** L1 ball, sort-based Duchi et al. (the scalar twin's algorithm). */
function tsL1Sort(delta: Float32Array, eps: Float32Array, out: Float32Array, u: Float32Array): void {
  for (let n = 0; n < B; n++) {
    const o = n * D, e = eps[n];
    let total = 0;
    for (let i = 0; i < D; i++) { u[i] = Math.abs(delta[o + i]); total += u[i]; }
    if (total <= e) { out.set(delta.subarray(o, o + D), o); continue; }
    u.sort();
    let sum = 0, theta = 0;
    for (let j = 1; j <= D; j++) { const uj = u[D - j]; sum += uj; const t = (sum - e) / j; if (uj - t > 0) theta = t; else break; }
    for (let i = 0; i < D; i++) { const v = delta[o + i]; out[o + i] = Math.sign(v) * Math.max(Math.abs(v) - theta, 0); }
  }
}

const bound = (v: number, x: number) => Math.max(v > 0 ? 1 - x : x, 0);

/** L1 ∩ box, bracket + alternating secant/bisection with the exact linear finish (the SIMD kernel's algorithm). */
function tsL1BoxBracket(delta: Float32Array, x0: Float32Array, eps: Float32Array, out: Float32Array): void {
  for (let n = 0; n < B; n++) {
    const o = n * D, e = eps[n];
    const f = (lam: number) => { let s = 0; for (let i = 0; i < D; i++) { const v = delta[o + i]; s += Math.min(Math.max(Math.abs(v) - lam, 0), bound(v, x0[o + i])); } return s; };
    let lo = 0, hi = 0, flo = 0, fhi = 0;
    for (let i = 0; i < D; i++) { const v = delta[o + i]; hi = Math.max(hi, Math.abs(v)); flo += Math.min(Math.abs(v), bound(v, x0[o + i])); }
    let lambda = 0;
    if (flo > e) {
      for (let iter = 0; ; iter++) {
        let mid = iter & 1 ? lo + (hi - lo) / 2 : lo + ((flo - e) / (flo - fhi)) * (hi - lo);
        if (!(mid > lo && mid < hi)) mid = lo + (hi - lo) / 2;
        let inside = 0, lin = 0, lsum = 0;
        for (let i = 0; i < D; i++) {
          const v = delta[o + i], a = Math.abs(v), b = bound(v, x0[o + i]), ea = a - b;
          if (a > lo && a < hi) inside++;
          if (ea > lo && ea < hi) inside++;
          if (ea >= hi) lsum += b; else if (a > lo) { lsum += a; lin++; }
        }
        if (inside === 0 || !(mid > lo && mid < hi)) { lambda = lin > 0 ? Math.min(Math.max((lsum - e) / lin, lo), hi) : lo; break; }
        const fm = f(mid);
        if (fm > e) { lo = mid; flo = fm; } else if (fm < e) { hi = mid; fhi = fm; } else { lambda = mid; break; }
      }
    }
    for (let i = 0; i < D; i++) { const v = delta[o + i]; out[o + i] = Math.sign(v) * Math.min(Math.max(Math.abs(v) - lambda, 0), bound(v, x0[o + i])); }
  }
}

/** L1 ∩ box, sorted breakpoints and a merged sweep (the scalar twin's algorithm). */
function tsL1BoxSort(delta: Float32Array, x0: Float32Array, eps: Float32Array, out: Float32Array, enter: Float32Array, leave: Float32Array): void {
  for (let n = 0; n < B; n++) {
    const o = n * D, e = eps[n];
    let f = 0, m = 0, k = 0;
    for (let i = 0; i < D; i++) {
      const v = delta[o + i], a = Math.abs(v);
      if (a === 0) continue;
      const b = bound(v, x0[o + i]);
      f += Math.min(a, b); enter[k] = a - b; leave[k] = a; k++;
      if (a - b <= 0) m++;
    }
    let lambda = 0;
    if (f > e) {
      const en = enter.subarray(0, k).sort(), le = leave.subarray(0, k).sort();
      let ie = 0, il = 0, at = 0;
      while (ie < k && en[ie] <= 0) ie++;
      for (;;) {
        const te = ie < k ? en[ie] : Infinity, tl = il < k ? le[il] : Infinity, t = Math.min(te, tl);
        const ft = f - m * (t - at);
        if (ft <= e || t === Infinity) { lambda = m > 0 ? at + (f - e) / m : at; break; }
        at = t; f = ft;
        if (te <= tl) { m++; ie++; } else { m--; il++; }
      }
    }
    for (let i = 0; i < D; i++) { const v = delta[o + i]; out[o + i] = Math.sign(v) * Math.min(Math.max(Math.abs(v) - lambda, 0), bound(v, x0[o + i])); }
  }
}

// Spatial transform, C = 1, written as three functions like the three kernels (the same work: each
// pass computes its own sample points): s = R(θ)(p − t − c) + c in float64, bilinear taps read
// through a bounds-checked helper (zero fill), Math.cos/Math.sin once per example.

/** y = T(x). */
function tsSpatialForward(x: Float32Array, p: Float32Array, y: Float32Array): void {
  const cx = (W - 1) / 2, cy = (H - 1) / 2, per = H * W;
  for (let n = 0; n < B; n++) {
    const cs = Math.cos(p[3 * n]), sn = Math.sin(p[3 * n]), tx = p[3 * n + 1], ty = p[3 * n + 2], o = n * per;
    const px = (yy: number, xx: number) => (yy < 0 || yy >= H || xx < 0 || xx >= W ? 0 : x[o + yy * W + xx]);
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
      const u = j - tx - cx, v = i - ty - cy;
      const sx = cs * u - sn * v + cx, sy = sn * u + cs * v + cy;
      const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
      y[o + i * W + j] = (1 - fy) * ((1 - fx) * px(y0, x0) + fx * px(y0, x0 + 1)) + fy * ((1 - fx) * px(y0 + 1, x0) + fx * px(y0 + 1, x0 + 1));
    }
  }
}

/** gx = Tᵀ gy (scatter of each output pixel's gradient to its 4 taps). */
function tsSpatialBackwardInput(gy: Float32Array, p: Float32Array, gx: Float32Array): void {
  const cx = (W - 1) / 2, cy = (H - 1) / 2, per = H * W;
  gx.fill(0);
  for (let n = 0; n < B; n++) {
    const cs = Math.cos(p[3 * n]), sn = Math.sin(p[3 * n]), tx = p[3 * n + 1], ty = p[3 * n + 2], o = n * per;
    const add = (yy: number, xx: number, v: number) => { if (yy >= 0 && yy < H && xx >= 0 && xx < W) gx[o + yy * W + xx] += v; };
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
      const u = j - tx - cx, v = i - ty - cy;
      const sx = cs * u - sn * v + cx, sy = sn * u + cs * v + cy;
      const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
      const g = gy[o + i * W + j];
      add(y0, x0, (1 - fx) * (1 - fy) * g); add(y0, x0 + 1, fx * (1 - fy) * g);
      add(y0 + 1, x0, (1 - fx) * fy * g); add(y0 + 1, x0 + 1, fx * fy * g);
    }
  }
}

/** gp = ∂⟨gy, T(x)⟩/∂(θ, tx, ty). */
function tsSpatialBackwardParams(x: Float32Array, p: Float32Array, gy: Float32Array, gp: Float32Array): void {
  const cx = (W - 1) / 2, cy = (H - 1) / 2, per = H * W;
  for (let n = 0; n < B; n++) {
    const cs = Math.cos(p[3 * n]), sn = Math.sin(p[3 * n]), tx = p[3 * n + 1], ty = p[3 * n + 2], o = n * per;
    const px = (yy: number, xx: number) => (yy < 0 || yy >= H || xx < 0 || xx >= W ? 0 : x[o + yy * W + xx]);
    let gt = 0, gtx = 0, gty = 0;
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
      const u = j - tx - cx, v = i - ty - cy;
      const sx = cs * u - sn * v + cx, sy = sn * u + cs * v + cy;
      const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
      const p00 = px(y0, x0), p01 = px(y0, x0 + 1), p10 = px(y0 + 1, x0), p11 = px(y0 + 1, x0 + 1);
      const g = gy[o + i * W + j];
      const gsx = g * ((1 - fy) * (p01 - p00) + fy * (p11 - p10)), gsy = g * ((1 - fx) * (p10 - p00) + fx * (p11 - p01));
      gt += gsx * (-sn * u - cs * v) + gsy * (cs * u - sn * v);
      gtx -= gsx * cs + gsy * sn; gty += gsx * sn - gsy * cs;
    }
    gp[3 * n] = gt; gp[3 * n + 1] = gtx; gp[3 * n + 2] = gty;
  }
}

/**
 * For context only: all three in one pass over the output pixels (shared sample points and taps).
 * A real attack cannot fuse the forward pass with the backward ones (gy comes from the network
 * applied to y), so the comparison row uses the three functions above.
 */
function tsSpatialFused(x: Float32Array, p: Float32Array, gy: Float32Array, y: Float32Array, gx: Float32Array, gp: Float32Array): void {
  const cx = (W - 1) / 2, cy = (H - 1) / 2, per = H * W;
  gx.fill(0);
  for (let n = 0; n < B; n++) {
    const cs = Math.cos(p[3 * n]), sn = Math.sin(p[3 * n]), tx = p[3 * n + 1], ty = p[3 * n + 2], o = n * per;
    const px = (yy: number, xx: number) => (yy < 0 || yy >= H || xx < 0 || xx >= W ? 0 : x[o + yy * W + xx]);
    const add = (yy: number, xx: number, v: number) => { if (yy >= 0 && yy < H && xx >= 0 && xx < W) gx[o + yy * W + xx] += v; };
    let gt = 0, gtx = 0, gty = 0;
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
      const u = j - tx - cx, v = i - ty - cy;
      const sx = cs * u - sn * v + cx, sy = sn * u + cs * v + cy;
      const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
      const p00 = px(y0, x0), p01 = px(y0, x0 + 1), p10 = px(y0 + 1, x0), p11 = px(y0 + 1, x0 + 1);
      y[o + i * W + j] = (1 - fy) * ((1 - fx) * p00 + fx * p01) + fy * ((1 - fx) * p10 + fx * p11);
      const g = gy[o + i * W + j];
      add(y0, x0, (1 - fx) * (1 - fy) * g); add(y0, x0 + 1, fx * (1 - fy) * g);
      add(y0 + 1, x0, (1 - fx) * fy * g); add(y0 + 1, x0 + 1, fx * fy * g);
      const gsx = g * ((1 - fy) * (p01 - p00) + fy * (p11 - p10)), gsy = g * ((1 - fx) * (p10 - p00) + fx * (p11 - p01));
      gt += gsx * (-sn * u - cs * v) + gsy * (cs * u - sn * v);
      gtx -= gsx * cs + gsy * sn; gty += gsx * sn - gsy * cs;
    }
    gp[3 * n] = gt; gp[3 * n + 1] = gtx; gp[3 * n + 2] = gty;
  }
}

// ---------------------------------------------------------------- data (MNIST-like)

const r = seeded(2024);
const x0 = new Float32Array(B * D).map(() => (r() < 0.8 ? 0 : r() < 0.5 ? 1 : r()));
// SLIDE-like δ: a dense small part plus sparse large steps, ‖δ‖₁ above ε = 10.
const delta = new Float32Array(B * D).map(() => (r() - 0.5) * 0.05 + (r() < 0.05 ? (r() - 0.5) * 2 : 0));
const eps = new Float32Array(B).fill(10);
const images = x0.slice();
const tparams = new Float32Array(3 * B).map((_, k) => (k % 3 === 0 ? (r() - 0.5) * 1.04 : (r() - 0.5) * 6));
const gyImg = randomArray(B * D, 9);

// TS outputs (the validation targets)
const ts = { l1: new Float32Array(B * D), l1s: new Float32Array(B * D), box: new Float32Array(B * D), boxs: new Float32Array(B * D), y: new Float32Array(B * D), gx: new Float32Array(B * D), gp: new Float32Array(3 * B) };
const fused = { y: new Float32Array(B * D), gx: new Float32Array(B * D), gp: new Float32Array(3 * B) };
const scratchU = new Float32Array(D), scratchE = new Float32Array(D), scratchL = new Float32Array(D);
const tsRuns = {
  l1: () => tsL1Michelot(delta, eps, ts.l1),
  l1sort: () => tsL1Sort(delta, eps, ts.l1s, scratchU),
  box: () => tsL1BoxBracket(delta, x0, eps, ts.box),
  boxsort: () => tsL1BoxSort(delta, x0, eps, ts.boxs, scratchE, scratchL),
  spatial: () => {
    tsSpatialForward(images, tparams, ts.y);
    tsSpatialBackwardInput(gyImg, tparams, ts.gx);
    tsSpatialBackwardParams(images, tparams, gyImg, ts.gp);
  },
  spatialFused: () => tsSpatialFused(images, tparams, gyImg, fused.y, fused.gx, fused.gp),
};
for (const run of Object.values(tsRuns)) run();
validate('TS Michelot vs TS sort', ts.l1, ts.l1s, 1e-5);
validate('TS bracket vs TS sort (L1∩box)', ts.box, ts.boxs, 1e-5);
validate('TS spatial fused vs three passes (y)', fused.y, ts.y, 0);
validate('TS spatial fused vs three passes (gx)', fused.gx, ts.gx, 0);
validate('TS spatial fused vs three passes (gp)', fused.gp, ts.gp, 0);

interface WasmCase { l1: () => void; box: () => void; spatial: () => void; check: () => void }

function wasmCase(engine: Engine): WasmCase {
  const dB = engine.fromF32(delta), xB = engine.fromF32(x0), eB = engine.fromF32(eps), out = engine.arena.allocF32(B * D);
  const img = engine.fromF32(images), pB = engine.fromF32(tparams), gyB = engine.fromF32(gyImg);
  const y = engine.arena.allocF32(B * D), gx = engine.arena.allocF32(B * D), gp = engine.arena.allocF32(3 * B);
  const shape = { batch: B, h: H, w: W, c: 1, params: pB };
  const c = {
    l1: () => projL1(engine, { batch: B, dim: D, delta: dB, eps: eB, out }),
    box: () => projL1Box(engine, { batch: B, dim: D, delta: dB, eps: eB, x0: xB, out }),
    spatial: () => {
      spatialForward(engine, { ...shape, x: img, y });
      spatialBackwardInput(engine, { ...shape, gy: gyB, gx });
      spatialBackwardParams(engine, { ...shape, x: img, gy: gyB, gradParams: gp });
    },
    check: () => {
      c.l1(); validate(`${engine.isa} L1`, engine.toF32(out), ts.l1, 1e-5);
      c.box(); validate(`${engine.isa} L1∩box`, engine.toF32(out), ts.box, 1e-5);
      c.spatial();
      validate(`${engine.isa} spatial fwd`, engine.toF32(y), ts.y, 1e-5);
      validate(`${engine.isa} spatial bwd input`, engine.toF32(gx), ts.gx, 1e-5);
      validate(`${engine.isa} spatial bwd params`, engine.toF32(gp), ts.gp, 1e-4);
    },
  };
  return c;
}

// threads: 1: the comparison is single-threaded (the default would split calls across a worker pool).
const simd = wasmCase(await loadEngine({ kernels: 'simd', threads: 1 }));
const scalar = wasmCase(await loadEngine({ kernels: 'scalar', threads: 1 }));
simd.check();
scalar.check();

const bench = new Bench({ time: 400, warmup: true });
bench
  .add('ts l1 michelot', tsRuns.l1).add('ts l1 sort', tsRuns.l1sort).add('simd l1', simd.l1).add('scalar l1', scalar.l1)
  .add('ts box bracket', tsRuns.box).add('ts box sort', tsRuns.boxsort).add('simd box', simd.box).add('scalar box', scalar.box)
  .add('ts spatial', tsRuns.spatial).add('ts spatial fused', tsRuns.spatialFused).add('simd spatial', simd.spatial).add('scalar spatial', scalar.spatial);
await bench.run();
const ms = (name: string) => medianMs(bench.tasks.find((t) => t.name === name));

const rows = [
  ['exact L1 projection, 100×784 (ε = 10)', ms('ts l1 michelot'), ms('ts l1 sort'), ms('scalar l1'), ms('simd l1')],
  ['exact L1∩box projection, 100×784 (ε = 10)', ms('ts box bracket'), ms('ts box sort'), ms('scalar box'), ms('simd box')],
  ['spatial fwd + bwd (image, θ/tx/ty), 100×28×28×1', ms('ts spatial'), NaN, ms('scalar spatial'), ms('simd spatial')],
].map(([name, tsSame, tsSort, sc, sm]) => [
  name as string, fmt((tsSame as number) * 1000, 0), fmt((tsSort as number) * 1000, 0), fmt((sc as number) * 1000, 0), fmt((sm as number) * 1000, 0),
  `${fmt((tsSame as number) / (sm as number), 2)}×`, Number.isFinite(tsSort as number) ? `${fmt((tsSort as number) / (sc as number), 2)}×` : '—',
]);
console.log(`\nPerturbation kernels, single thread, median µs per batch (${process.version}):\n`);
console.log(markdownTable(['case', 'TS same alg. as SIMD', 'TS sort-based', 'WASM scalar', 'WASM SIMD', 'SIMD vs TS same alg.', 'scalar vs TS sort'], rows));
const fusedMs = ms('ts spatial fused');
console.log(`\nSpatial: TS is three passes like the three kernels (fwd, bwd to image, bwd to θ/tx/ty). For context, TS fusing all three\n` +
  `into one pass (not possible in an attack: gy depends on y) takes ${fmt(fusedMs * 1000, 0)} µs: SIMD is ${fmt(fusedMs / ms('simd spatial'), 2)}× that, scalar ${fmt(fusedMs / ms('scalar spatial'), 2)}×.`);
