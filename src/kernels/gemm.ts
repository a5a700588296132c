// TS wrapper of the f32_gemm kernels (assembly/gemm.ts): C = act((accumulate ? C : 0) + op(A)·op(B) + bias).
// Shapes: op(A) (M, K), op(B) (K, N), C (M, N), bias (N); all row-major f32 with leading
// dimensions lda/ldb/ldc (default: dense). Threading: splits the rows of C, or its 8-column panels
// when M < N (splitColumns); no reduction. Either split gives the same bits.
import type { Engine } from '../wasm/engine.ts';
import { Params } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { checkBuf, checkDisjoint, checkInt } from './check.ts';

export interface GemmArgs {
  M: number;
  N: number;
  K: number;
  a: F32Buf;
  b: F32Buf;
  c: F32Buf;
  transA?: boolean;
  transB?: boolean;
  lda?: number;
  ldb?: number;
  ldc?: number;
  accumulate?: boolean;
  relu?: boolean;
  bias?: F32Buf | null;
}

/** Floats a row-major matrix of `rows` rows with leading dimension `ld` spans. */
function span(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

export function gemm(engine: Engine, args: GemmArgs): void {
  const fn = 'gemm';
  const M = checkInt(fn, 'M', args.M), N = checkInt(fn, 'N', args.N), K = checkInt(fn, 'K', args.K);
  const transA = !!args.transA, transB = !!args.transB;
  // Stored shapes: A is (M, K), or (K, M) when transposed; B is (K, N), or (N, K).
  const [aRows, aCols] = transA ? [K, M] : [M, K];
  const [bRows, bCols] = transB ? [N, K] : [K, N];
  const lda = checkInt(fn, 'lda', args.lda ?? aCols, aCols);
  const ldb = checkInt(fn, 'ldb', args.ldb ?? bCols, bCols);
  const ldc = checkInt(fn, 'ldc', args.ldc ?? N, N);
  const aSpan = span(aRows, aCols, lda), bSpan = span(bRows, bCols, ldb), cSpan = span(M, N, ldc);
  checkBuf(fn, 'a', args.a, aSpan);
  checkBuf(fn, 'b', args.b, bSpan);
  checkBuf(fn, 'c', args.c, cSpan);
  if (args.bias) checkBuf(fn, 'bias', args.bias, N);
  // The kernel writes C while it reads A, B and the bias: no input may share memory with C.
  checkDisjoint(fn, 'a', args.a, aSpan, 'c', args.c, cSpan);
  checkDisjoint(fn, 'b', args.b, bSpan, 'c', args.c, cSpan);
  checkDisjoint(fn, 'bias', args.bias, N, 'c', args.c, cSpan);
  const byColumns = splitColumns(M, N, engine.threads);
  const flags = (args.accumulate ? 1 : 0) | (args.relu ? 2 : 0) | (byColumns ? 4 : 0);
  const p = new Params()
    .i32(M).i32(N).i32(K)
    .ptr(args.a).i32(lda).i32(transA ? 1 : 0)
    .ptr(args.b).i32(ldb).i32(transB ? 1 : 0)
    .ptr(args.c).i32(ldc)
    .i32(flags)
    .ptr(args.bias);
  // Parts per thread (pool.ts GRAINS_PER_THREAD): split by rows, every part packs all of B, so one;
  // by columns, every part streams all of A again, so two (a scratch timing of fc1 forward at 2
  // threads, quiet host: 93 / 91 / 90 / 88 GFLOP/s with 1 / 2 / 4 / 8 parts per thread).
  engine.run('f32_gemm', p, byColumns ? Math.ceil(N / GEMM_NR) : M, 2 * M * N * K, byColumns ? 2 : 1);
}

/** Columns of a packed B panel (assembly/gemm.ts GEMM_NR). */
const GEMM_NR = 8;

/**
 * Whether `threads` threads split C by column panels rather than rows. A row split makes every
 * thread pack all of B (K·N floats each), a column split makes every thread read all of A (M·K):
 * pick the smaller duplicate, unless the columns have too few panels to give every thread a part.
 * For the paper's fc1 at batch 100 (M = 100, N = 1024 or 3136) this took the 2-thread speed-up of
 * those GEMMs from ~1.75× to ~1.97× (`npm run bench:profile`).
 */
export function splitColumns(M: number, N: number, threads: number): boolean {
  return M < N && Math.ceil(N / GEMM_NR) >= Math.min(M, threads);
}
