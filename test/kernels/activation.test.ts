import { describe, expect, it } from 'vitest';
import { Params } from '../../src/engine.ts';
import { biasAdd, biasBackward, relu, reluBackward } from '../../src/kernels/activation.ts';
import { assertClose, assertEqualBits } from '../_helpers/close.ts';
import { checkGuards, engineFor, guarded, guardedFrom } from '../_helpers/engine.ts';
import { biasAddRef, biasBackwardRef, runParts } from '../_helpers/nn_reference.ts';
import { rng, uniform } from '../_helpers/rng.ts';

const COLS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 65];
const N = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1023, 1025];

/** Random values with some exact zeros, -0 and tiny values mixed in (ReLU's kink). */
function withKinks(rand: () => number, n: number): Float32Array {
  const x = uniform(rand, n);
  for (let i = 0; i < n; i += 5) x[i] = [0, -0, 1e-30, -1e-30][(i / 5) % 4];
  return x;
}

describe('bias add (+ReLU): simd vs scalar vs float64 reference', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const rand = rng(11);
  const cases: { rows: number; cols: number; relu: boolean; inPlace: boolean }[] = [];
  for (const rows of [1, 3, 6]) for (const cols of COLS) for (const relu of [false, true]) cases.push({ rows, cols, relu, inPlace: (rows + cols) % 2 === 0 });

  it.each(cases)('rows=$rows cols=$cols relu=$relu inPlace=$inPlace', ({ rows, cols, relu: r, inPlace }) => {
    const x = withKinks(rand, rows * cols), bias = uniform(rand, cols);
    const want = biasAddRef(x, bias, rows, cols, r);
    const outs: Float32Array[] = [];
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const X = guardedFrom(engine, x), B = guardedFrom(engine, bias);
        const Y = inPlace ? X : guarded(engine, rows * cols);
        biasAdd(engine, { x: X, bias: B, y: Y, rows, cols, relu: r });
        checkGuards(engine, X, 'x');
        checkGuards(engine, Y, 'y');
        checkGuards(engine, B, 'bias');
        if (!inPlace) assertEqualBits('x unchanged', engine.toF32(X), x);
        outs.push(engine.toF32(Y));
      });
    }
    assertClose('simd vs reference', outs[0], want, { atol: 1e-7, rtol: 1e-6 });
    assertEqualBits('simd vs scalar', outs[0], outs[1]);
  });

  it('row ranges: parts [0,2), [2,5), [5,7) equal the whole call bit for bit', () => {
    const rows = 7, cols = 13;
    const x = uniform(rand, rows * cols), bias = uniform(rand, cols);
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const X = engine.fromF32(x), B = engine.fromF32(bias), Y1 = guarded(engine, rows * cols), Y2 = guarded(engine, rows * cols);
        biasAdd(engine, { x: X, bias: B, y: Y1, rows, cols, relu: true });
        runParts(engine, 'f32_bias_add_fwd', new Params().i32(rows).i32(cols).ptr(X).ptr(B).ptr(Y2).i32(1), rows, [2, 5]);
        assertEqualBits(`${engine.isa} parts`, engine.toF32(Y2), engine.toF32(Y1));
        checkGuards(engine, Y2, 'y');
      });
    }
  });
});

describe('bias backward (column-sum reduction): simd vs scalar vs float64 reference', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const rand = rng(12);
  const cases: { rows: number; cols: number }[] = [];
  for (const rows of [0, 1, 2, 7, 33]) for (const cols of COLS) cases.push({ rows, cols });

  it.each(cases)('rows=$rows cols=$cols', ({ rows, cols }) => {
    const dy = uniform(rand, rows * cols);
    const want = biasBackwardRef(dy, rows, cols);
    const outs: Float32Array[] = [];
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const DY = guardedFrom(engine, dy), DB = guarded(engine, cols);
        biasBackward(engine, { dy: DY, db: DB, rows, cols });
        checkGuards(engine, DB, 'db');
        outs.push(engine.toF32(DB));
      });
    }
    assertClose('simd vs reference', outs[0], want, { atol: 1e-6 * Math.sqrt(rows + 1), rtol: 1e-5 });
    assertEqualBits('simd vs scalar', outs[0], outs[1]);
  });

  it('partials over [0,3), [3,3), [3,10), [10,21) overwrite their output and sum to db', () => {
    const rows = 21, cols = 37;
    const dy = uniform(rand, rows * cols);
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const DY = engine.fromF32(dy);
        const parts = runParts(engine, 'f32_bias_add_bwd', new Params().i32(rows).i32(cols).ptr(DY), rows, [3, 3, 10], cols);
        expect(parts.length).toBe(4);
        expect([...parts[1]].every((v) => v === 0)).toBe(true);
        const bounds = [0, 3, 3, 10, 21];
        for (let k = 0; k < 4; k++) {
          const want = biasBackwardRef(dy.subarray(bounds[k] * cols, bounds[k + 1] * cols), bounds[k + 1] - bounds[k], cols);
          assertClose(`${engine.isa} part ${k}`, parts[k], want, { atol: 1e-6, rtol: 1e-5 });
        }
      });
    }
  });
});

describe('relu forward/backward: simd vs scalar vs float64 reference', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const rand = rng(13);

  it.each(N.map((n) => ({ n, inPlace: n % 2 === 1 })))('forward n=$n inPlace=$inPlace', ({ n, inPlace }) => {
    const x = withKinks(rand, n);
    if (n > 3) x[3] = NaN;
    const want = Float64Array.from(x, (v) => (Number.isNaN(v) ? NaN : Math.max(v, 0)));
    const outs: Float32Array[] = [];
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const X = guardedFrom(engine, x);
        const Y = inPlace ? X : guarded(engine, n);
        relu(engine, { x: X, y: Y, n });
        checkGuards(engine, X, 'x');
        checkGuards(engine, Y, 'y');
        outs.push(engine.toF32(Y));
      });
    }
    assertClose('simd vs reference', outs[0], want, { atol: 0, rtol: 0 });
    assertEqualBits('simd vs scalar', outs[0], outs[1]);
    // max(-0, 0) is +0 (bitwise) in both variants.
    for (let i = 0; i < n; i++) if (x[i] === 0) expect(Object.is(outs[0][i], 0)).toBe(true);
  });

  it.each(N.map((n) => ({ n, inPlace: n % 2 === 0 })))('backward n=$n inPlace(dx=dy)=$inPlace', ({ n, inPlace }) => {
    const y = Float32Array.from(withKinks(rand, n), (v) => Math.max(v, 0));
    const dy = uniform(rand, n);
    // NOTE: relu'(0) = 0: zeros of y pass no gradient.
    const want = Float64Array.from(dy, (g, i) => (y[i] > 0 ? g : 0));
    const outs: Float32Array[] = [];
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const Y = guardedFrom(engine, y), DY = guardedFrom(engine, dy);
        const DX = inPlace ? DY : guarded(engine, n);
        reluBackward(engine, { y: Y, dy: DY, dx: DX, n });
        for (const [b, name] of [[Y, 'y'], [DY, 'dy'], [DX, 'dx']] as const) checkGuards(engine, b, name);
        outs.push(engine.toF32(DX));
      });
    }
    assertClose('simd vs reference', outs[0], want, { atol: 0, rtol: 0 });
    assertEqualBits('simd vs scalar', outs[0], outs[1]);
  });

  it('element ranges: parts starting off the vector grid equal the whole call', () => {
    const n = 37;
    const x = uniform(rand, n), dy = uniform(rand, n);
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const X = engine.fromF32(x), DY = engine.fromF32(dy);
        const Y1 = guarded(engine, n), Y2 = guarded(engine, n), DX1 = guarded(engine, n), DX2 = guarded(engine, n);
        relu(engine, { x: X, y: Y1, n });
        runParts(engine, 'f32_relu_fwd', new Params().i32(n).ptr(X).ptr(Y2), n, [3, 10, 11, 30]);
        assertEqualBits('relu parts', engine.toF32(Y2), engine.toF32(Y1));
        reluBackward(engine, { y: Y1, dy: DY, dx: DX1, n });
        runParts(engine, 'f32_relu_bwd', new Params().i32(n).ptr(Y1).ptr(DY).ptr(DX2), n, [1, 6, 35]);
        assertEqualBits('relu bwd parts', engine.toF32(DX2), engine.toF32(DX1));
        for (const b of [Y2, DX2]) checkGuards(engine, b);
      });
    }
  });

  it('central differences of Σ dy·relu(x + bias) match reluBackward and biasBackward', () => {
    const engine = simd;
    const rows = 5, cols = 7, n = rows * cols, h = 1e-4;
    const x = uniform(rand, n), bias = uniform(rand, cols), dy = uniform(rand, n);
    // Keep pre-activations away from the kink so the finite differences see a smooth function.
    for (let i = 0; i < n; i++) if (Math.abs(x[i] + bias[i % cols]) < 1e-2) x[i] += 0.05;
    const f = (xs: ArrayLike<number>, bs: ArrayLike<number>) => {
      const y = biasAddRef(xs, bs, rows, cols, true);
      let s = 0;
      for (let i = 0; i < n; i++) s += dy[i] * y[i];
      return s;
    };
    engine.arena.scope(() => {
      const X = engine.fromF32(x), B = engine.fromF32(bias), Y = engine.arena.allocF32(n), DY = engine.fromF32(dy);
      const DX = engine.arena.allocF32(n), DB = engine.arena.allocF32(cols);
      biasAdd(engine, { x: X, bias: B, y: Y, rows, cols, relu: true });
      reluBackward(engine, { y: Y, dy: DY, dx: DX, n });
      biasBackward(engine, { dy: DX, db: DB, rows, cols });
      const x64 = Float64Array.from(x), b64 = Float64Array.from(bias);
      const fdX = new Float64Array(n), fdB = new Float64Array(cols);
      for (let i = 0; i < n; i++) {
        const xp = x64.slice(), xm = x64.slice();
        xp[i] += h;
        xm[i] -= h;
        fdX[i] = (f(xp, b64) - f(xm, b64)) / (2 * h);
      }
      for (let c = 0; c < cols; c++) {
        const bp = b64.slice(), bm = b64.slice();
        bp[c] += h;
        bm[c] -= h;
        fdB[c] = (f(x64, bp) - f(x64, bm)) / (2 * h);
      }
      assertClose('dx vs central differences', engine.toF32(DX), fdX, { atol: 1e-4, rtol: 1e-3 });
      assertClose('db vs central differences', engine.toF32(DB), fdB, { atol: 1e-4, rtol: 1e-3 });
    });
  });
});

describe('activation argument checks', async () => {
  const engine = await engineFor('simd');
  const a = engine.fromF32(new Float32Array(12)), b = engine.fromF32(new Float32Array(12)), bias = engine.fromF32(new Float32Array(4));
  const wide = engine.fromF32(new Float32Array(24));
  it.each([
    [{ rows: 2.5 }, /biasAdd: rows must be an integer/],
    [{ cols: -1 }, /biasAdd: cols must be an integer/],
    [{ x: { ptr: a.ptr, length: 11 } }, /biasAdd: x has 11 floats, expected at least 12/],
    [{ y: { ptr: b.ptr, length: 5 } }, /biasAdd: y has 5 floats/],
    [{ bias: { ptr: bias.ptr, length: 3 } }, /biasAdd: bias has 3 floats/],
    [{ bias: null }, /biasAdd: bias must be a buffer/],
    [{ y: { ptr: a.ptr + 4, length: 12 } }, /biasAdd: x and y overlap/],
  ])('biasAdd %o', (over, msg) => {
    expect(() => biasAdd(engine, { x: a, bias, y: b, rows: 3, cols: 4, ...(over as object) } as never)).toThrow(msg);
  });
  it.each([
    [{ rows: NaN }, /biasBackward: rows must be an integer/],
    [{ db: { ptr: bias.ptr, length: 3 } }, /biasBackward: db has 3 floats/],
    [{ dy: { ptr: a.ptr, length: 2 } }, /biasBackward: dy has 2 floats/],
    [{ db: { ptr: a.ptr, length: 4 } }, /biasBackward: dy and db overlap/],
  ])('biasBackward %o', (over, msg) => {
    expect(() => biasBackward(engine, { dy: a, db: bias, rows: 3, cols: 4, ...(over as object) } as never)).toThrow(msg);
  });
  it.each([
    [{ n: 13 }, /relu: x has 12 floats, expected at least 13/],
    [{ n: 1.5 }, /relu: n must be an integer/],
    [{ y: { ptr: a.ptr + 8, length: 12 } }, /relu: x and y overlap/],
    [{ x: undefined }, /relu: x must be a buffer/],
  ])('relu %o', (over, msg) => {
    expect(() => relu(engine, { x: a, y: b, n: 12, ...(over as object) } as never)).toThrow(msg);
  });
  it.each([
    [{ n: -2 }, /reluBackward: n must be an integer/],
    [{ dy: { ptr: b.ptr, length: 4 } }, /reluBackward: dy has 4 floats/],
    [{ y: { ptr: wide.ptr, length: 12 }, dx: { ptr: wide.ptr + 8, length: 12 } }, /reluBackward: y and dx overlap/],
  ])('reluBackward %o', (over, msg) => {
    const dx = engine.arena.allocF32(12);
    expect(() => reluBackward(engine, { y: a, dy: b, dx, n: 12, ...(over as object) } as never)).toThrow(msg);
  });
});
