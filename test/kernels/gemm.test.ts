import { afterAll, describe, expect, it } from 'vitest';
import { gemm, splitColumns } from '../../src/kernels/gemm.ts';
import { Params, type Engine } from '../../src/wasm/engine.ts';
import { loadEngine } from '../../src/wasm/load.ts';
import { assertClose } from '../_helpers/close.ts';
import { checkGuards, engineFor, guarded, guardedFrom, SIMD_BUILDS, simdEngine } from '../_helpers/engine.ts';
import { gemmRef } from '../_helpers/reference.ts';
import { dot, rng, uniform } from '../_helpers/rng.ts';

const SIZES = [1, 3, 4, 5, 7, 8, 9, 17];

describe.each(SIMD_BUILDS)('f32_gemm (%s build): simd vs scalar vs float64 reference', async (build) => {
  const simd = await simdEngine(build);
  const scalar = await engineFor('scalar');
  const rand = rng(1);

  const cases: { M: number; N: number; K: number; transA: boolean; transB: boolean; accumulate: boolean; relu: boolean; bias: boolean; pad: number }[] = [];
  for (const M of SIZES) for (const N of SIZES) for (const K of [1, 4, 9]) {
    const i = cases.length;
    cases.push({ M, N, K, transA: (i & 1) === 1, transB: (i & 2) === 2, accumulate: i % 5 === 0, relu: i % 3 === 0, bias: i % 4 === 1, pad: i % 7 === 0 ? 3 : 0 });
  }
  // Sizes that cross the KC (256), MC (128) and NC (1024) blocks, all transposes.
  for (const [M, N, K] of [[130, 20, 300], [33, 1030, 5], [129, 9, 513]]) for (const t of [0, 1, 2, 3]) {
    cases.push({ M, N, K, transA: (t & 1) === 1, transB: (t & 2) === 2, accumulate: t === 1, relu: t === 2, bias: t === 3, pad: t === 0 ? 1 : 0 });
  }

  it.each(cases)('M=$M N=$N K=$K transA=$transA transB=$transB acc=$accumulate relu=$relu bias=$bias pad=$pad', (cs) => {
    const { M, N, K, transA, transB, pad } = cs;
    const [aRows, aCols] = transA ? [K, M] : [M, K];
    const [bRows, bCols] = transB ? [N, K] : [K, N];
    const lda = aCols + pad, ldb = bCols + pad, ldc = N + pad;
    const a = uniform(rand, aRows === 0 ? 0 : (aRows - 1) * lda + aCols);
    const b = uniform(rand, bRows === 0 ? 0 : (bRows - 1) * ldb + bCols);
    const c0 = uniform(rand, (M - 1) * ldc + N);
    const bias = cs.bias ? uniform(rand, N) : null;
    const want = gemmRef({ M, N, K, a, b, c: c0, transA, transB, lda, ldb, ldc, accumulate: cs.accumulate, relu: cs.relu, bias });
    const outs: Float32Array[] = [];
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const A = guardedFrom(engine, a), B = guardedFrom(engine, b), C = guardedFrom(engine, c0);
        const Bias = bias ? guardedFrom(engine, bias) : null;
        gemm(engine, { M, N, K, a: A, b: B, c: C, transA, transB, lda, ldb, ldc, accumulate: cs.accumulate, relu: cs.relu, bias: Bias });
        for (const [buf, name] of [[A, 'a'], [B, 'b'], [C, 'c']] as const) checkGuards(engine, buf, name);
        outs.push(engine.toF32(C));
      });
    }
    // Padding columns of C (j ≥ N) must be untouched.
    for (let i = 0; i < M - 1; i++) for (let j = N; j < ldc; j++) expect(outs[0][i * ldc + j]).toBe(c0[i * ldc + j]);
    const tol = { atol: 1e-5 * Math.sqrt(K) * 4, rtol: 1e-4 };
    assertClose('simd vs reference', outs[0], want, tol);
    assertClose('scalar vs reference', outs[1], want, tol);
    assertClose('simd vs scalar', outs[0], outs[1], tol);
  });
});

describe('f32_gemm adjoint: <A v, u> = <v, Aᵀ u>', async () => {
  const engine = await engineFor('simd');
  it.each([[7, 5], [64, 33], [130, 257]])('A (%i×%i)', (M, K) => {
    const rand = rng(M * 1000 + K);
    const a = uniform(rand, M * K), v = uniform(rand, K), u = uniform(rand, M);
    engine.arena.scope(() => {
      const A = engine.fromF32(a), V = engine.fromF32(v), U = engine.fromF32(u);
      const Av = guarded(engine, M), Atu = guarded(engine, K);
      gemm(engine, { M, N: 1, K, a: A, b: V, c: Av });
      gemm(engine, { M: K, N: 1, K: M, a: A, b: U, c: Atu, transA: true });
      const lhs = dot(engine.toF32(Av), u), rhs = dot(v, engine.toF32(Atu));
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * (1 + Math.abs(lhs)));
      // B-side transpose: (vᵀ A) computed as Aᵀ-times via transB.
      const vtA = guarded(engine, K);
      gemm(engine, { M: 1, N: K, K: M, a: U, b: A, c: vtA });
      assertClose('uᵀA = (Aᵀu)ᵀ', engine.toF32(vtA), engine.toF32(Atu), { atol: 1e-5, rtol: 1e-4 });
      const Bt = guarded(engine, M);
      gemm(engine, { M: 1, N: M, K, a: V, b: A, c: Bt, transB: true });
      assertClose('vᵀAᵀ = (Av)ᵀ', engine.toF32(Bt), engine.toF32(Av), { atol: 1e-5, rtol: 1e-4 });
    });
  });
});

describe('gemm argument checks', async () => {
  const engine = await engineFor('simd');
  const a = engine.fromF32(new Float32Array(6)), b = engine.fromF32(new Float32Array(6)), c = engine.fromF32(new Float32Array(4));
  it.each([
    [{ M: 2.5, N: 2, K: 3 }, /M must be an integer/],
    [{ M: -1, N: 2, K: 3 }, /M must be an integer/],
    [{ M: 2, N: 2, K: 3, a: { ptr: a.ptr, length: 5 } }, /a has 5 floats, expected at least 6/],
    [{ M: 2, N: 2, K: 3, c: { ptr: c.ptr, length: 3 } }, /c has 3 floats/],
    [{ M: 2, N: 2, K: 3, lda: 2 }, /lda must be an integer ≥ 3/],
    [{ M: 2, N: 2, K: 3, bias: { ptr: c.ptr, length: 1 } }, /bias has 1 floats/],
    [{ M: 2, N: 2, K: 3, b: null }, /b must be a buffer/],
    // Overlapping output: C must not share memory with A, B or the bias.
    [{ M: 2, N: 2, K: 3, c: { ptr: a.ptr + 8, length: 4 } }, /gemm: a and c overlap/],
    [{ M: 2, N: 2, K: 3, c: b }, /gemm: b and c overlap/],
    [{ M: 2, N: 2, K: 3, bias: { ptr: c.ptr + 8, length: 2 } }, /gemm: bias and c overlap/],
  ])('%o', (over, msg) => {
    expect(() => gemm(engine, { M: 2, N: 2, K: 3, a, b, c, ...(over as object) } as never)).toThrow(msg);
  });
});

describe.each(['simd', 'scalar'] as const)('f32_gemm (%s): a split by column panels gives the bits of a split by rows', async (isa) => {
  const one = await engineFor(isa);
  const three = await loadEngine({ kernels: isa, threads: 3, minParallelCost: 0 });
  afterAll(() => three.close());
  // The kernel directly, with flag bit 2 (split columns) off and on, on one thread and split in
  // three uneven parts: every run must give the row split's bits.
  const shapes = [[5, 45, 17, false, false], [3, 20, 300, true, true], [9, 1030, 5, false, true], [37, 19, 23, true, false]] as const;
  it.each(shapes)('M=%i N=%i K=%i transA=%s transB=%s', (M, N, K, transA, transB) => {
    const rand = rng(M * 7 + N);
    const a = uniform(rand, M * K), b = uniform(rand, K * N), c0 = uniform(rand, M * N), bias = uniform(rand, N);
    const run = (engine: Engine, byColumns: boolean) => engine.arena.scope(() => {
      const A = engine.fromF32(a), B = engine.fromF32(b), C = engine.fromF32(c0), Bias = engine.fromF32(bias);
      const p = new Params().i32(M).i32(N).i32(K).ptr(A).i32(transA ? M : K).i32(transA ? 1 : 0).ptr(B).i32(transB ? K : N).i32(transB ? 1 : 0)
        .ptr(C).i32(N).i32(1 | 2 | (byColumns ? 4 : 0)).ptr(Bias);
      engine.run('f32_gemm', p, byColumns ? Math.ceil(N / 8) : M);
      return Array.from(engine.toF32(C));
    });
    const byRows = run(one, false);
    expect(run(one, true)).toEqual(byRows);
    expect(run(three, true)).toEqual(byRows);
    expect(run(three, false)).toEqual(byRows);
  });

  it('splitColumns picks the split that duplicates less (columns when M < N) unless the columns have too few panels', () => {
    expect(splitColumns(100, 1024, 2)).toBe(true);
    expect(splitColumns(3136, 1024, 2)).toBe(false);
    expect(splitColumns(512, 512, 2)).toBe(false);
    expect(splitColumns(2, 8, 2)).toBe(false);
    expect(splitColumns(2, 9, 2)).toBe(true);
  });

  it('a column range past the last panel traps', () => {
    one.arena.scope(() => {
      const A = one.fromF32(new Float32Array(4)), B = one.fromF32(new Float32Array(36)), C = one.fromF32(new Float32Array(18));
      const p = new Params().i32(2).i32(9).i32(2).ptr(A).i32(2).i32(0).ptr(B).i32(9).i32(0).ptr(C).i32(9).i32(4).ptr(null);
      expect(() => one.run('f32_gemm', p, 3)).toThrow(/column panels/);
    });
  });
});
