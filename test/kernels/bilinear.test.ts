import { afterAll, describe, expect, it } from 'vitest';
import { spatialBackwardInput, spatialBackwardParams, spatialForward } from '../../src/kernels/spatial.ts';
import type { Engine } from '../../src/wasm/engine.ts';
import { assertClose } from '../_helpers/close.ts';
import { checkGuards, engineFor, guarded, guardedFrom } from '../_helpers/engine.ts';
import { sampleAt, spatialRef } from '../_helpers/perturb_reference.ts';
import { dot, rng, uniform } from '../_helpers/rng.ts';
import { loadEngine } from '../../src/wasm/load.ts';

type Shape = [number, number, number, number];

function forward(engine: Engine, x: Float32Array, s: Shape, p: Float32Array): Float32Array {
  const [batch, h, w, c] = s;
  return engine.arena.scope(() => {
    const X = guardedFrom(engine, x), P = guardedFrom(engine, p), Y = guarded(engine, x.length);
    spatialForward(engine, { batch, h, w, c, params: P, x: X, y: Y });
    checkGuards(engine, Y, 'y');
    return engine.toF32(Y);
  });
}

function backwardInput(engine: Engine, gy: Float32Array, s: Shape, p: Float32Array): Float32Array {
  const [batch, h, w, c] = s;
  return engine.arena.scope(() => {
    const G = guardedFrom(engine, gy), P = guardedFrom(engine, p), GX = guarded(engine, gy.length);
    spatialBackwardInput(engine, { batch, h, w, c, params: P, gy: G, gx: GX });
    checkGuards(engine, GX, 'gx');
    return engine.toF32(GX);
  });
}

function backwardParams(engine: Engine, x: Float32Array, gy: Float32Array, s: Shape, p: Float32Array): Float32Array {
  const [batch, h, w, c] = s;
  return engine.arena.scope(() => {
    const X = guardedFrom(engine, x), G = guardedFrom(engine, gy), P = guardedFrom(engine, p), GP = guarded(engine, 3 * batch);
    spatialBackwardParams(engine, { batch, h, w, c, params: P, x: X, gy: G, gradParams: GP });
    checkGuards(engine, GP, 'gradParams');
    return engine.toF32(GP);
  });
}

function randomParams(rand: () => number, batch: number): Float32Array {
  const p = new Float32Array(3 * batch);
  for (let n = 0; n < batch; n++) {
    p[3 * n] = (rand() - 0.5) * 1.2; // θ within ±34°
    p[3 * n + 1] = (rand() - 0.5) * 6.5;
    p[3 * n + 2] = (rand() - 0.5) * 6.5;
  }
  return p;
}

// Odd and vector-width-straddling sizes; channels 1, 3, 4, 5, 32.
const SHAPES: Shape[] = [[3, 1, 1, 1], [2, 3, 5, 1], [3, 4, 4, 3], [2, 7, 9, 4], [2, 5, 6, 5], [4, 28, 28, 1], [1, 9, 7, 32], [2, 8, 13, 2]];

describe('bilinear forward: simd vs scalar vs float64 reference', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  it.each(SHAPES)('batch %i, %i×%i×%i', (...s) => {
    const rand = rng(s.reduce((a, b) => a * 31 + b, 7));
    const x = uniform(rand, s[0] * s[1] * s[2] * s[3], 0, 1), p = randomParams(rand, s[0]);
    const want = spatialRef(x, ...s, p);
    const a = forward(simd, x, s, p), b = forward(scalar, x, s, p);
    assertClose('simd vs reference', a, want, { atol: 2e-5, rtol: 1e-4 });
    assertClose('scalar vs reference', b, want, { atol: 2e-5, rtol: 1e-4 });
    assertClose('simd vs scalar', a, b, { atol: 1e-6, rtol: 1e-5 });
  });

  it('identity parameters give the identity; integer translations give exact shifts', () => {
    for (const s of SHAPES) for (const e of [simd, scalar]) {
      const [batch, h, w, c] = s;
      const x = uniform(rng(h * w), batch * h * w * c, 0, 1);
      expect(forward(e, x, s, new Float32Array(3 * batch))).toEqual(x);
      const p = new Float32Array(3 * batch);
      for (let n = 0; n < batch; n++) { p[3 * n + 1] = (n % 3) - 1 + 2 * (n % 2); p[3 * n + 2] = 1 - (n % 4); }
      const y = forward(e, x, s, p);
      for (let n = 0; n < batch; n++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let ch = 0; ch < c; ch++) {
        // Content moves by +(tx, ty): y[i][j] = x[i − ty][j − tx].
        const si = i - p[3 * n + 2], sj = j - p[3 * n + 1];
        const want = si < 0 || si >= h || sj < 0 || sj >= w ? 0 : x[((n * h + si) * w + sj) * c + ch];
        if (y[((n * h + i) * w + j) * c + ch] !== want) throw new Error(`shift ${s}: (${n},${i},${j},${ch}) got ${y[((n * h + i) * w + j) * c + ch]} want ${want}`);
      }
    }
  });

  // Destinations computed by hand, not by the sampling formula: θ > 0 turns the displayed image
  // (rows pointing down) counter-clockwise, as tf.contrib.image.rotate; then content moves by +(tx, ty).
  it.each([
    // 5×5, centre (row 2, col 2): top centre → left centre; (row 1, col 4) → (row 0, col 1).
    { h: 5, w: 5, lit: [0, 2], params: [Math.PI / 2, 0, 0], dest: [2, 0] },
    { h: 5, w: 5, lit: [1, 4], params: [Math.PI / 2, 0, 0], dest: [0, 1] },
    // θ = −π/2 turns clockwise: top centre → right centre.
    { h: 5, w: 5, lit: [0, 2], params: [-Math.PI / 2, 0, 0], dest: [2, 4] },
    // 5 rows × 7 columns, centre (row 2, col 3): (row 0, col 4) turns to (row 1, col 1), then tx = 1 → (1, 2).
    { h: 5, w: 7, lit: [0, 4], params: [Math.PI / 2, 1, 0], dest: [1, 2] },
    // θ = π: (row 0, col 1) → (row 4, col 5); then ty = −2 → (2, 5).
    { h: 5, w: 7, lit: [0, 1], params: [Math.PI, 0, -2], dest: [2, 5] },
  ])('a lit pixel at $lit, (θ, tx, ty) = $params, lands at $dest ($h×$w)', ({ h, w, lit, params, dest }) => {
    const x = new Float32Array(h * w);
    x[lit[0] * w + lit[1]] = 1;
    for (const e of [simd, scalar]) {
      const y = forward(e, x, [1, h, w, 1], Float32Array.from(params));
      for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
        const want = i === dest[0] && j === dest[1] ? 1 : 0;
        expect(Math.abs(y[i * w + j] - want), `${e.isa} (${i}, ${j})`).toBeLessThan(1e-5);
      }
    }
  });

  it('rotation sends content outside to zero; a far translation gives all zeros', () => {
    for (const e of [simd, scalar]) {
      const x = new Float32Array(4 * 6 * 2).fill(1);
      expect([...forward(e, x, [1, 4, 6, 2], Float32Array.of(0.3, 100, -50))].every((v) => v === 0)).toBe(true);
      expect([...forward(e, x, [1, 4, 6, 2], Float32Array.of(0, 1e30, 0))].every((v) => v === 0)).toBe(true);
    }
  });
});

describe('bilinear backward to the image: adjoint test ⟨T x, u⟩ = ⟨x, Tᵀ u⟩', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  it.each(SHAPES)('batch %i, %i×%i×%i', (...s) => {
    const rand = rng(s.reduce((a, b) => a * 17 + b, 3));
    const n = s[0] * s[1] * s[2] * s[3];
    const x = uniform(rand, n), u = uniform(rand, n), p = randomParams(rand, s[0]);
    const outs = [simd, scalar].map((e) => {
      const tx = forward(e, x, s, p), ttu = backwardInput(e, u, s, p);
      // Per example: the transform acts on each image separately.
      const per = s[1] * s[2] * s[3];
      for (let b = 0; b < s[0]; b++) {
        const lhs = dot(tx.subarray(b * per, (b + 1) * per), u.subarray(b * per, (b + 1) * per));
        const rhs = dot(x.subarray(b * per, (b + 1) * per), ttu.subarray(b * per, (b + 1) * per));
        expect(Math.abs(lhs - rhs)).toBeLessThan(1e-5 * (1 + Math.abs(lhs)) * Math.sqrt(per));
      }
      return ttu;
    });
    assertClose('simd vs scalar', outs[0], outs[1], { atol: 1e-5, rtol: 1e-4 });
  });
});

describe('bilinear backward to (θ, tx, ty): central differences on the float64 path', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const H = 1e-6;

  /** Distance of the nearest sample coordinate (of pixels that see the image) to the pixel grid. */
  function gridDistance(h: number, w: number, t: number, tx: number, ty: number): number {
    let d = Infinity;
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      const [sx, sy] = sampleAt(i, j, h, w, t, tx, ty);
      if (sx < -1 || sx > w || sy < -1 || sy > h) continue;
      d = Math.min(d, Math.abs(sx - Math.round(sx)), Math.abs(sy - Math.round(sy)));
    }
    return d;
  }

  it.each(SHAPES.filter((s) => s[1] * s[2] <= 200))('batch %i, %i×%i×%i', (...s) => {
    const [batch, h, w, c] = s;
    const rand = rng(s.reduce((a, b) => a * 13 + b, 11));
    const x = uniform(rand, batch * h * w * c, 0, 1), gy = uniform(rand, batch * h * w * c);
    // Parameters whose sample points stay ≥ 1e-3 from the grid (bilinear kinks): resample until so.
    const p = new Float32Array(3 * batch);
    for (let n = 0; n < batch; n++) {
      do {
        p.set(randomParams(rand, 1), 3 * n);
      } while (gridDistance(h, w, p[3 * n], p[3 * n + 1], p[3 * n + 2]) < 1e-3);
    }
    const loss = (pp: Float64Array | Float32Array) => {
      const y = spatialRef(x, batch, h, w, c, pp);
      const per = h * w * c, out = new Float64Array(batch);
      for (let n = 0; n < batch; n++) out[n] = dot(y.subarray(n * per, (n + 1) * per), gy.subarray(n * per, (n + 1) * per));
      return out;
    };
    const numeric = new Float64Array(3 * batch);
    for (let k = 0; k < 3; k++) {
      const plus = Float64Array.from(p), minus = Float64Array.from(p);
      for (let n = 0; n < batch; n++) { plus[3 * n + k] += H; minus[3 * n + k] -= H; }
      const lp = loss(plus), lm = loss(minus);
      for (let n = 0; n < batch; n++) numeric[3 * n + k] = (lp[n] - lm[n]) / (2 * H);
    }
    const scale = Math.sqrt(h * w * c);
    for (const e of [simd, scalar]) {
      assertClose(`${e.isa} analytic vs central differences`, backwardParams(e, x, gy, s, p), numeric, { atol: 2e-4 * scale, rtol: 1e-3 });
    }
  });
});

// An RT attack starts at the identity, where every sample point sits on the pixel grid (a kink of
// the bilinear map). The kernels take the derivative from the right/below in sample coordinates
// (header of assembly/bilinear.ts); these are one-sided differences of the float64 path there.
describe('bilinear backward to (θ, tx, ty) at the identity: one-sided differences', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const SH: Shape[] = [[2, 9, 8, 1], [1, 7, 7, 4], [2, 28, 28, 1]];
  /** ⟨gy_n, T(x)_n⟩ per example on the float64 reference. */
  const loss = (x: Float32Array, gy: Float32Array, s: Shape, p: Float64Array) => {
    const [batch, h, w, c] = s, per = h * w * c, y = spatialRef(x, batch, h, w, c, p);
    return Float64Array.from({ length: batch }, (_, n) => dot(y.subarray(n * per, (n + 1) * per), gy.subarray(n * per, (n + 1) * per)));
  };

  it.each(SH)('tx, ty on a random image: the difference from below, exact (batch %i, %i×%i×%i)', (...s) => {
    const [batch, h, w, c] = s;
    const rand = rng(h * w + c);
    const x = uniform(rand, batch * h * w * c, 0, 1), gy = uniform(rand, batch * h * w * c);
    const zero = new Float64Array(3 * batch), l0 = loss(x, gy, s, zero);
    // Sample point s = p − t: lowering t by h moves every sample right/down, the kernels' side;
    // the map is bilinear between grid points, so the difference is exact for any h < 1.
    const H = 0.25, numeric = new Float64Array(3 * batch);
    for (const k of [1, 2]) {
      const p = new Float64Array(3 * batch);
      for (let n = 0; n < batch; n++) p[3 * n + k] = -H;
      const lm = loss(x, gy, s, p);
      for (let n = 0; n < batch; n++) numeric[3 * n + k] = (l0[n] - lm[n]) / H;
    }
    for (const e of [simd, scalar]) {
      const g = backwardParams(e, x, gy, s, new Float32Array(3 * batch));
      for (let n = 0; n < batch; n++) for (const k of [1, 2]) {
        expect(g[3 * n + k], `${e.isa} example ${n} d/d${k === 1 ? 'tx' : 'ty'}`).toBeCloseTo(numeric[3 * n + k], 3);
      }
    }
  });

  it.each(SH)('θ on an affine image (both one-sided derivatives agree inside): the difference from above (batch %i, %i×%i×%i)', (...s) => {
    const [batch, h, w, c] = s;
    const rand = rng(7 * h + w);
    // x = a + b·row + d·col per channel; gy is zero on the border ring, so every pixel that counts
    // samples inside the affine image, where the left and right derivatives are equal.
    const x = new Float32Array(batch * h * w * c), gy = new Float32Array(batch * h * w * c);
    for (let n = 0; n < batch; n++) for (let ch = 0; ch < c; ch++) {
      const a = rand(), b = (rand() - 0.5) / h, d = (rand() - 0.5) / w;
      for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
        const k = ((n * h + i) * w + j) * c + ch;
        x[k] = a + b * i + d * j;
        if (i > 0 && j > 0 && i < h - 1 && j < w - 1) gy[k] = 2 * rand() - 1;
      }
    }
    const zero = new Float64Array(3 * batch), l0 = loss(x, gy, s, zero);
    const H = 1e-4, p = new Float64Array(3 * batch);
    for (let n = 0; n < batch; n++) p[3 * n] = H;
    const lp = loss(x, gy, s, p);
    for (const e of [simd, scalar]) {
      const g = backwardParams(e, x, gy, s, new Float32Array(3 * batch));
      for (let n = 0; n < batch; n++) {
        const numeric = (lp[n] - l0[n]) / H;
        expect(Math.abs(g[3 * n] - numeric), `${e.isa} example ${n} d/dθ: analytic ${g[3 * n]} vs ${numeric}`).toBeLessThan(1e-3 * (1 + Math.abs(numeric)));
      }
    }
  });
});

describe('spatial argument checks', async () => {
  const engine = await engineFor('simd');
  const x = engine.fromF32(new Float32Array(24)), y = engine.fromF32(new Float32Array(24)), p = engine.fromF32(new Float32Array(6));
  it.each([
    [{ h: 0 }, /h must be an integer ≥ 1/],
    [{ c: 1.5 }, /c must be an integer ≥ 1/],
    [{ params: { ptr: p.ptr, length: 5 } }, /params has 5 floats/],
    [{ x: { ptr: x.ptr, length: 23 } }, /x has 23 floats/],
    [{ y: x }, /y must not alias x/],
  ])('%o', (over, msg) => {
    expect(() => spatialForward(engine, { batch: 2, h: 3, w: 2, c: 2, params: p, x, y, ...(over as object) } as never)).toThrow(msg);
  });
});

// Edge handling of the SIMD kernels (C = 1: 4 pixels per vector, in-image tap pairs, analytic
// interior groups per row; C ≥ 4: channels per vector) against the scalar twin and the reference.
describe('bilinear edge handling: every size, parameters near the pixel grid and far outside', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const sizes = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  // θ: 0, grid-aligned quarter turns, tiny and large angles; (tx, ty): integers (samples exactly on
  // the grid and on the image border), integers ± 1 ulp-ish offsets, far outside.
  const thetas = [0, 1e-7, -1e-7, Math.PI / 2, Math.PI, -Math.PI / 2, 0.3, -2.5, 7];
  const shifts = [0, 1, -1, 2.5, -3, 1e-6, -1e-6, 0.5 - 1e-7, 40];

  function edgeParams(rand: () => number, batch: number): Float32Array {
    const p = new Float32Array(3 * batch);
    for (let n = 0; n < batch; n++) {
      p[3 * n] = thetas[Math.floor(rand() * thetas.length)];
      p[3 * n + 1] = shifts[Math.floor(rand() * shifts.length)] * (rand() < 0.5 ? 1 : -1);
      p[3 * n + 2] = shifts[Math.floor(rand() * shifts.length)] * (rand() < 0.5 ? 1 : -1);
    }
    return p;
  }

  /** Equal as numbers (+0 and −0 alike). */
  function expectSame(label: string, a: Float32Array, b: Float32Array): void {
    expect(a.length).toBe(b.length);
    for (let i = 0; i < a.length; i++) if (!(a[i] === b[i])) throw new Error(`${label}: [${i}] ${a[i]} !== ${b[i]}`);
  }

  it.each([1, 2, 3, 4, 5])('forward: simd equals the scalar twin exactly and matches the reference, C = %i', (c) => {
    const rand = rng(100 + c);
    for (const h of sizes) for (const w of sizes) {
      const batch = 6, s: Shape = [batch, h, w, c];
      const x = uniform(rand, batch * h * w * c, -1, 1), p = edgeParams(rand, batch);
      const a = forward(simd, x, s, p), b = forward(scalar, x, s, p);
      expectSame(`${h}×${w}×${c}`, a, b);
      assertClose(`${h}×${w}×${c} vs reference`, a, spatialRef(x, ...s, p), { atol: 2e-5, rtol: 1e-4 });
    }
  });

  it('backward to the image: adjoint identity and simd vs scalar, C = 1 and 4', () => {
    const rand = rng(7);
    for (const c of [1, 4]) for (const h of sizes) for (const w of sizes) {
      const batch = 6, s: Shape = [batch, h, w, c], per = h * w * c;
      const x = uniform(rand, batch * per), u = uniform(rand, batch * per), p = edgeParams(rand, batch);
      const outs = [simd, scalar].map((e) => {
        const tx = forward(e, x, s, p), ttu = backwardInput(e, u, s, p);
        for (let b = 0; b < batch; b++) {
          const lhs = dot(tx.subarray(b * per, (b + 1) * per), u.subarray(b * per, (b + 1) * per));
          const rhs = dot(x.subarray(b * per, (b + 1) * per), ttu.subarray(b * per, (b + 1) * per));
          if (!(Math.abs(lhs - rhs) < 1e-5 * (1 + Math.abs(lhs)) * Math.sqrt(per))) throw new Error(`${e.isa} ${h}×${w}×${c} example ${b}: ⟨Tx, u⟩ = ${lhs}, ⟨x, Tᵀu⟩ = ${rhs}`);
        }
        return ttu;
      });
      assertClose(`${h}×${w}×${c} simd vs scalar`, outs[0], outs[1], { atol: 1e-6, rtol: 1e-5 });
    }
  });

  it('backward to (θ, tx, ty): simd vs scalar, C = 1 and 4', () => {
    const rand = rng(8);
    for (const c of [1, 4]) for (const h of sizes) for (const w of sizes) {
      const batch = 6, s: Shape = [batch, h, w, c];
      const x = uniform(rand, batch * h * w * c), gy = uniform(rand, batch * h * w * c), p = edgeParams(rand, batch);
      const a = backwardParams(simd, x, gy, s, p), b = backwardParams(scalar, x, gy, s, p);
      assertClose(`${h}×${w}×${c}`, a, b, { atol: 2e-5 * h * w * c, rtol: 1e-4 });
    }
  });

  it('non-finite and huge parameters: no trap, nothing written outside the outputs, zeros where all taps are outside', () => {
    const s: Shape = [6, 28, 28, 1];
    const x = uniform(rng(9), 6 * 28 * 28), gy = uniform(rng(10), 6 * 28 * 28);
    const p = Float32Array.of(NaN, 0, 0, 0, Infinity, 0, 1e30, 0, 0, 0, 1e30, -1e30, 0.2, -Infinity, 3, 0, 0, NaN);
    for (const e of [simd, scalar]) {
      // The guard checks inside these helpers catch any write past the outputs.
      const y = forward(e, x, s, p), gx = backwardInput(e, gy, s, p);
      backwardParams(e, x, gy, s, p);
      // Example 3: translated by (1e30, −1e30): every output and every gradient is 0.
      const per = 28 * 28;
      expect([...y.subarray(3 * per, 4 * per)].every((v) => v === 0)).toBe(true);
      expect([...gx.subarray(3 * per, 4 * per)].every((v) => v === 0)).toBe(true);
    }
  });
});

describe('bilinear on 2 threads (split examples, per-thread scratch for the adjoint row table)', async () => {
  const one = await loadEngine({ kernels: 'simd', threads: 1 });
  const two = await loadEngine({ kernels: 'simd', threads: 2, minParallelCost: 0 });
  it.each([[7, 28, 28, 1], [5, 9, 7, 1], [3, 5, 6, 4]] as Shape[])('batch %i, %i×%i×%i: same results as 1 thread, bit for bit', (...s) => {
    const rand = rng(s.reduce((a, b) => a * 7 + b, 5));
    const n = s[0] * s[1] * s[2] * s[3];
    const x = uniform(rand, n), gy = uniform(rand, n), p = randomParams(rand, s[0]);
    expect(two.threads).toBe(2);
    expect(forward(two, x, s, p)).toEqual(forward(one, x, s, p));
    expect(backwardInput(two, gy, s, p)).toEqual(backwardInput(one, gy, s, p));
    expect(backwardParams(two, x, gy, s, p)).toEqual(backwardParams(one, x, gy, s, p));
  });
  it('the adjoint asks for scratch to hold its row table (80 bytes per 4 pixels of a row) when C = 1', () => {
    const sizer = one.exports.f32_bilinear_bwd_input_scratch as (params: number) => number;
    one.arena.scope(() => {
      const params = one.arena.allocF32(8).ptr, fields = one.arena.i32(params, 8);
      for (const [h, w] of [[28, 28], [2, 2], [9, 5], [3, 13]]) {
        fields.set([4, h, w, 1]);
        expect(sizer(params)).toBeGreaterThanOrEqual(80 * Math.ceil(w / 4));
      }
    });
  });
  afterAll(async () => {
    await one.close();
    await two.close();
  });
});
