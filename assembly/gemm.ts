// f32 GEMM: C = act((accumulate ? C : 0) + op(A) · op(B) + bias)
//
// Buffers (row-major f32):
//   op(A): (M, K). transA = 0: A[i*lda + k]; transA = 1: A[k*lda + i].
//   op(B): (K, N). transB = 0: B[k*ldb + j]; transB = 1: B[j*ldb + k].
//   C:     (M, N), C[i*ldc + j].   bias: (N) or null (0).   act: ReLU when flags & 2.
// Parameter block (i32 fields, see src/kernels/gemm.ts):
//   0 M, 1 N, 2 K, 3 A, 4 lda, 5 transA, 6 B, 7 ldb, 8 transB, 9 C, 10 ldc,
//   11 flags (bit 0: accumulate into C, bit 1: ReLU, bit 2: split columns), 12 bias pointer (0 = none).
// Variants:
//   f32_gemm__scalar  the reference: a plain i-j-k triple loop, one running sum per C element.
//   f32_gemm__simd    GEMM in the Goto/BLIS structure: B packed in 8-column panels per KC
//                     block, A read in place in 4-row panels (only a partial last panel is
//                     packed), MC×KC blocks of A kept in L2, a 4×8 register-blocked
//                     micro-kernel of f32x4 multiply-adds (8 accumulators; fused in the
//                     relaxed-SIMD build, see simd.ts `madd`). Both variants add the products of
//                     one C element in increasing k.
// Threading contract: [begin, end) splits the rows of C (0 <= begin <= end <= M), or, with flag
//   bit 2, its panels of GEMM_NR columns (0 <= begin <= end <= ceil(N / 8)): each thread then packs
//   only its own columns of B (a row split makes every thread pack all of B, which costs the small-M
//   GEMMs of a batch-100 network ~10 % of their 2-thread speed). Rows and columns of C are
//   independent and each element sums its products in the same order either way, so results do not
//   depend on the split. Scratch: gemmScratchBytes() bytes, private to the caller (packed B block,
//   one packed edge panel of A, one edge tile).
// Sources: K. Goto, R. van de Geijn, "Anatomy of high-performance matrix multiplication" (2008);
//   BLIS micro-kernel design (Van Zee & van de Geijn 2015).
import { madd, paramI32, paramPtr } from "./simd";

export const GEMM_MR: i32 = 4;
export const GEMM_NR: i32 = 8;
export const GEMM_KC: i32 = 256;
export const GEMM_MC: i32 = 128;
export const GEMM_NC: i32 = 1024;

const FLAG_ACCUMULATE: i32 = 1;
const FLAG_RELU: i32 = 2;
const FLAG_SPLIT_COLS: i32 = 4;

/** Whether [begin, end) indexes column panels of GEMM_NR (FLAG_SPLIT_COLS) rather than rows; checks the range. */
function splitsColumns(params: usize, begin: i32, end: i32): bool {
  const M = paramI32(params, 0), N = paramI32(params, 1);
  if (paramI32(params, 11) & FLAG_SPLIT_COLS) {
    assert(0 <= begin && begin <= end && end <= (N + GEMM_NR - 1) / GEMM_NR, "f32_gemm: range outside [0, ceil(N / 8)) column panels");
    return true;
  }
  assert(0 <= begin && begin <= end && end <= M, "f32_gemm: range outside [0, M)");
  return false;
}

// ---------------------------------------------------------------------------------------------
// Scalar reference
// ---------------------------------------------------------------------------------------------

export function f32_gemm__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const cols = splitsColumns(params, begin, end);
  const M = paramI32(params, 0), N = paramI32(params, 1), K = paramI32(params, 2);
  const i0 = cols ? 0 : begin, i1 = cols ? M : end;
  const j0 = cols ? begin * GEMM_NR : 0, j1 = cols ? min(end * GEMM_NR, N) : N;
  const A = paramPtr(params, 3), lda = paramI32(params, 4), transA = paramI32(params, 5);
  const B = paramPtr(params, 6), ldb = paramI32(params, 7), transB = paramI32(params, 8);
  const C = paramPtr(params, 9), ldc = paramI32(params, 10), flags = paramI32(params, 11);
  const bias = paramPtr(params, 12);
  for (let i = i0; i < i1; i++) {
    for (let j = j0; j < j1; j++) {
      let sum: f32 = 0;
      for (let k = 0; k < K; k++) {
        const a = transA ? load<f32>(A + ((<usize>k * lda + i) << 2)) : load<f32>(A + ((<usize>i * lda + k) << 2));
        const b = transB ? load<f32>(B + ((<usize>j * ldb + k) << 2)) : load<f32>(B + ((<usize>k * ldb + j) << 2));
        sum += a * b;
      }
      const c = C + ((<usize>i * ldc + j) << 2);
      if (flags & FLAG_ACCUMULATE) sum = load<f32>(c) + sum;
      if (bias) sum += load<f32>(bias + (<usize>j << 2));
      if (flags & FLAG_RELU) sum = max<f32>(sum, 0);
      store<f32>(c, sum);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SIMD packed GEMM
// ---------------------------------------------------------------------------------------------

/** Bytes of per-thread scratch the f32_gemm kernels need for this parameter block. */
export function f32_gemm_scratch(params: usize): i32 {
  return gemmScratchBytes(paramI32(params, 1));
}

/** Scratch bytes of the packed GEMM for N columns: one packed B block, one packed A block, one tile. */
export function gemmScratchBytes(N: i32): i32 {
  const nc = min(N, GEMM_NC);
  const panels = (nc + GEMM_NR - 1) / GEMM_NR;
  return (panels * GEMM_NR * GEMM_KC + GEMM_MR * GEMM_KC + GEMM_MR * GEMM_NR) << 2;
}

export function f32_gemm__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const cols = splitsColumns(params, begin, end);
  const K = paramI32(params, 2);
  const A = paramPtr(params, 3), lda = paramI32(params, 4), transA = paramI32(params, 5);
  const ldb = paramI32(params, 7), transB = paramI32(params, 8);
  const ldc = paramI32(params, 10), flags = paramI32(params, 11);
  // This part's columns are a GEMM of their own on B, C and bias shifted by colBegin.
  const j0 = cols ? begin * GEMM_NR : 0;
  const N = cols ? min(end * GEMM_NR, paramI32(params, 1)) - j0 : paramI32(params, 1);
  if (cols) {
    begin = 0;
    end = paramI32(params, 0);
  }
  const B = paramPtr(params, 6) + ((transB ? <usize>j0 * ldb : <usize>j0) << 2);
  const C = paramPtr(params, 9) + (<usize>j0 << 2);
  const bias = paramPtr(params, 12) ? paramPtr(params, 12) + (<usize>j0 << 2) : 0;
  if (begin >= end || N <= 0) return;
  const nc0 = min(N, GEMM_NC);
  const packedB = scratch;
  const work = scratch + ((<usize>((nc0 + GEMM_NR - 1) / GEMM_NR) * GEMM_NR * GEMM_KC) << 2);
  for (let jc = 0; jc < N; jc += GEMM_NC) {
    const nc = min(GEMM_NC, N - jc);
    if (K == 0) {
      // op(A)·op(B) is all zeros: only the epilogue applies.
      epilogueRows(C + (<usize>jc << 2), ldc, begin, end, nc, flags, bias ? bias + (<usize>jc << 2) : 0, !(flags & FLAG_ACCUMULATE));
      continue;
    }
    for (let pc = 0; pc < K; pc += GEMM_KC) {
      const kc = min(GEMM_KC, K - pc);
      packB(B, ldb, transB, pc, kc, jc, nc, packedB);
      const first = pc == 0 && !(flags & FLAG_ACCUMULATE);
      const last = pc + kc == K;
      gemmPackedBlock(A, lda, transA, begin, end, pc, kc, packedB, nc, C + (<usize>jc << 2), ldc, first, work);
      if (last && (bias || (flags & FLAG_RELU))) {
        epilogueRows(C + (<usize>jc << 2), ldc, begin, end, nc, flags, bias ? bias + (<usize>jc << 2) : 0, false);
      }
    }
  }
}

/** Applies bias and ReLU to rows [begin, end) × nc columns of C; `zeroFirst` starts from C = 0. */
function epilogueRows(C: usize, ldc: i32, begin: i32, end: i32, nc: i32, flags: i32, bias: usize, zeroFirst: bool): void {
  const relu = (flags & FLAG_RELU) != 0;
  for (let i = begin; i < end; i++) {
    const row = C + ((<usize>i * ldc) << 2);
    for (let j = 0; j < nc; j++) {
      let v: f32 = zeroFirst ? 0 : load<f32>(row + (<usize>j << 2));
      if (bias) v += load<f32>(bias + (<usize>j << 2));
      if (relu) v = max<f32>(v, 0);
      store<f32>(row + (<usize>j << 2), v);
    }
  }
}

/**
 * Packs op(B)[pc:pc+kc, jc:jc+nc] into panels of GEMM_NR columns: dst[panel][k][0..8),
 * zero-padding the last panel.
 */
export function packB(B: usize, ldb: i32, transB: i32, pc: i32, kc: i32, jc: i32, nc: i32, dst: usize): void {
  for (let jp = 0; jp < nc; jp += GEMM_NR) {
    const nr = min(GEMM_NR, nc - jp);
    const panel = dst + ((<usize>jp * kc) << 2);
    if (!transB && nr == GEMM_NR) {
      for (let k = 0; k < kc; k++) {
        const src = B + ((<usize>(pc + k) * ldb + jc + jp) << 2);
        const out = panel + (<usize>k << 5);
        v128.store(out, v128.load(src));
        v128.store(out, v128.load(src, 16), 16);
      }
    } else if (transB && nr == GEMM_NR) {
      // op(B)[k][j] = B[j·ldb + k]: 4×4 transposes of rows j..j+3 (and j+4..j+7) at k..k+3.
      let k = 0;
      for (; k + 4 <= kc; k += 4) {
        const out = panel + (<usize>k << 5);
        transpose4x4(B + ((<usize>(jc + jp) * ldb + pc + k) << 2), <usize>ldb << 2, out, 32);
        transpose4x4(B + ((<usize>(jc + jp + 4) * ldb + pc + k) << 2), <usize>ldb << 2, out + 16, 32);
      }
      for (; k < kc; k++) {
        const out = panel + (<usize>k << 5);
        for (let jj = 0; jj < GEMM_NR; jj++) store<f32>(out + (<usize>jj << 2), load<f32>(B + ((<usize>(jc + jp + jj) * ldb + pc + k) << 2)));
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const out = panel + (<usize>k << 5);
        for (let jj = 0; jj < GEMM_NR; jj++) {
          let v: f32 = 0;
          if (jj < nr) {
            const j = jc + jp + jj;
            v = transB ? load<f32>(B + ((<usize>j * ldb + pc + k) << 2)) : load<f32>(B + ((<usize>(pc + k) * ldb + j) << 2));
          }
          store<f32>(out + (<usize>jj << 2), v);
        }
      }
    }
  }
}

/** Writes the transpose of the 4×4 block at src (row stride srcStride bytes) to dst (row stride dstStride bytes). */
// @ts-ignore: decorator
@inline function transpose4x4(src: usize, srcStride: usize, dst: usize, dstStride: usize): void {
  const va = v128.load(src), vb = v128.load(src + srcStride);
  const vc = v128.load(src + 2 * srcStride), vd = v128.load(src + 3 * srcStride);
  const vab_lo = v128.shuffle<i32>(va, vb, 0, 4, 1, 5);
  const vab_hi = v128.shuffle<i32>(va, vb, 2, 6, 3, 7);
  const vcd_lo = v128.shuffle<i32>(vc, vd, 0, 4, 1, 5);
  const vcd_hi = v128.shuffle<i32>(vc, vd, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<i64>(vab_lo, vcd_lo, 0, 2));
  v128.store(dst + dstStride, v128.shuffle<i64>(vab_lo, vcd_lo, 1, 3));
  v128.store(dst + 2 * dstStride, v128.shuffle<i64>(vab_hi, vcd_hi, 0, 2));
  v128.store(dst + 3 * dstStride, v128.shuffle<i64>(vab_hi, vcd_hi, 1, 3));
}

/**
 * Packs the last rows (fewer than GEMM_MR) of op(A)[i0:i0+rows, pc:pc+kc] into one panel
 * dst[k][0..4), zero-padding the missing rows.
 */
function packEdgePanel(A: usize, lda: i32, transA: i32, i0: i32, rows: i32, pc: i32, kc: i32, dst: usize): void {
  for (let k = 0; k < kc; k++) {
    const out = dst + (<usize>k << 4);
    for (let ii = 0; ii < GEMM_MR; ii++) {
      let v: f32 = 0;
      if (ii < rows) {
        const i = i0 + ii;
        v = transA ? load<f32>(A + ((<usize>(pc + k) * lda + i) << 2)) : load<f32>(A + ((<usize>i * lda + pc + k) << 2));
      }
      store<f32>(out + (<usize>ii << 2), v);
    }
  }
}

/**
 * C[begin:end, 0:nc] (+)= op(A)[begin:end, pc:pc+kc] · packedB, with packedB one packB() block.
 * `first`: overwrite C instead of adding to it. `work`: GEMM_MR*GEMM_KC + 32 floats of scratch.
 * Full 4-row panels of op(A) are read in place (a packing pass cost more than it saved: ~10 % on
 * 512³); only a last partial panel is packed, zero-padded, into `work`.
 */
export function gemmPackedBlock(A: usize, lda: i32, transA: i32, begin: i32, end: i32, pc: i32, kc: i32,
                                packedB: usize, nc: i32, C: usize, ldc: i32, first: bool, work: usize): void {
  const edgePanel = work;
  const tile = work + ((<usize>GEMM_MR * GEMM_KC) << 2);
  // Element (ii, k) of a 4-row panel of op(A) sits at a + ii·aRow + k·aK.
  const aRow: usize = transA ? 4 : <usize>lda << 2;
  const aK: usize = transA ? <usize>lda << 2 : 4;
  const fullCols = nc & ~(GEMM_NR - 1);
  for (let ic = begin; ic < end; ic += GEMM_MC) {
    const mc = min(GEMM_MC, end - ic);
    const fullRows = mc & ~(GEMM_MR - 1);
    const a = transA ? A + ((<usize>pc * lda + ic) << 2) : A + ((<usize>ic * lda + pc) << 2);
    const c = C + ((<usize>ic * ldc) << 2);
    if (transA) fullTilesStrided(kc, a, aK, fullRows, packedB, fullCols, c, ldc, first);
    else fullTilesRowMajor(a, lda, fullRows, kc, packedB, fullCols, c, ldc, first);
    // Right edge (nc % 8 columns) of the full rows, then the bottom edge (mc % 4 rows) of all columns.
    for (let ir = 0; ir < fullRows; ir += GEMM_MR) {
      if (fullCols < nc) edgeTile(kc, a + <usize>ir * aRow, aRow, aK, GEMM_MR, packedB, fullCols, nc, c + ((<usize>ir * ldc) << 2), ldc, first, tile);
    }
    if (fullRows < mc) {
      packEdgePanel(A, lda, transA, ic + fullRows, mc - fullRows, pc, kc, edgePanel);
      for (let jr = 0; jr < nc; jr += GEMM_NR) {
        edgeTile(kc, edgePanel, 4, 16, mc - fullRows, packedB, jr, min(jr + GEMM_NR, nc), c + ((<usize>fullRows * ldc) << 2), ldc, first, tile);
      }
    }
  }
}

/**
 * All full 4×8 tiles of a rows × cols block of row-major A (rows % 4 == 0, cols % 8 == 0), B panels
 * outer so each stays in L1. Its own micro-kernel copy (A rows read in place, constant k step)
 * measured ~12 % faster than the shared strided one on 512³ (V8's register allocation).
 */
function fullTilesRowMajor(A: usize, lda: i32, mc: i32, kc: i32, packedB: usize, nc: i32, C: usize, ldc: i32, first: bool): void {
  const ldcBytes = <usize>ldc << 2, ldaBytes = <usize>lda << 2;
  for (let jr = 0; jr < nc; jr += GEMM_NR) {
    const bPanel = packedB + ((<usize>jr * kc) << 2);
    for (let ir = 0; ir < mc; ir += GEMM_MR) {
      microRowMajor(kc, A + <usize>ir * ldaBytes, ldaBytes, bPanel, C + <usize>ir * ldcBytes + (<usize>jr << 2), ldcBytes, first);
    }
  }
}

/** 4×8 micro-kernel on four rows of row-major A: C tile (+)= A[0..4, k] ⊗ b[k][0..8). */
// @ts-ignore: decorator
@inline export function microRowMajor(kc: i32, a0: usize, ldaBytes: usize, b: usize, c: usize, ldcBytes: usize, first: bool): void {
  let vc00 = f32x4.splat(0), vc01 = f32x4.splat(0);
  let vc10 = f32x4.splat(0), vc11 = f32x4.splat(0);
  let vc20 = f32x4.splat(0), vc21 = f32x4.splat(0);
  let vc30 = f32x4.splat(0), vc31 = f32x4.splat(0);
  const c1 = c + ldcBytes, c2 = c1 + ldcBytes, c3 = c2 + ldcBytes;
  if (!first) {
    vc00 = v128.load(c); vc01 = v128.load(c, 16);
    vc10 = v128.load(c1); vc11 = v128.load(c1, 16);
    vc20 = v128.load(c2); vc21 = v128.load(c2, 16);
    vc30 = v128.load(c3); vc31 = v128.load(c3, 16);
  }
  let a1 = a0 + ldaBytes, a2 = a1 + ldaBytes, a3 = a2 + ldaBytes;
  for (let k = 0; k < kc; k++) {
    const vb0 = v128.load(b), vb1 = v128.load(b, 16);
    const va0 = v128.load32_splat(a0);
    vc00 = madd(va0, vb0, vc00);
    vc01 = madd(va0, vb1, vc01);
    const va1 = v128.load32_splat(a1);
    vc10 = madd(va1, vb0, vc10);
    vc11 = madd(va1, vb1, vc11);
    const va2 = v128.load32_splat(a2);
    vc20 = madd(va2, vb0, vc20);
    vc21 = madd(va2, vb1, vc21);
    const va3 = v128.load32_splat(a3);
    vc30 = madd(va3, vb0, vc30);
    vc31 = madd(va3, vb1, vc31);
    a0 += 4; a1 += 4; a2 += 4; a3 += 4;
    b += 32;
  }
  v128.store(c, vc00); v128.store(c, vc01, 16);
  v128.store(c1, vc10); v128.store(c1, vc11, 16);
  v128.store(c2, vc20); v128.store(c2, vc21, 16);
  v128.store(c3, vc30); v128.store(c3, vc31, 16);
}

/** As fullTilesRowMajor, for transposed A (4 consecutive rows of op(A) are contiguous, k strided). */
function fullTilesStrided(kc: i32, a: usize, aK: usize, rows: i32, packedB: usize, cols: i32, C: usize, ldc: i32, first: bool): void {
  const ldcBytes = <usize>ldc << 2;
  for (let jr = 0; jr < cols; jr += GEMM_NR) {
    const bPanel = packedB + ((<usize>jr * kc) << 2);
    let ap = a, cp = C + (<usize>jr << 2);
    for (let ir = 0; ir < rows; ir += GEMM_MR) {
      micro4x8(kc, ap, 4, aK, bPanel, 32, cp, ldcBytes, first);
      ap += 16;
      cp += ldcBytes << 2;
    }
  }
}

/** One edge tile: rows < 4 and/or columns [j0, j1) narrower than 8, computed in `tile` and copied out. */
function edgeTile(kc: i32, a: usize, aRow: usize, aK: usize, rows: i32, packedB: usize, j0: i32, j1: i32,
                  c: usize, ldc: i32, first: bool, tile: usize): void {
  const ldcBytes = <usize>ldc << 2;
  const cols = j1 - j0;
  c += <usize>j0 << 2;
  for (let ii = 0; ii < GEMM_MR; ii++) {
    for (let jj = 0; jj < GEMM_NR; jj++) {
      const v: f32 = !first && ii < rows && jj < cols ? load<f32>(c + <usize>ii * ldcBytes + (<usize>jj << 2)) : 0;
      store<f32>(tile + (<usize>(ii * GEMM_NR + jj) << 2), v);
    }
  }
  micro4x8(kc, a, aRow, aK, packedB + ((<usize>j0 * kc) << 2), 32, tile, 32, false);
  for (let ii = 0; ii < rows; ii++) {
    for (let jj = 0; jj < cols; jj++) {
      store<f32>(c + <usize>ii * ldcBytes + (<usize>jj << 2), load<f32>(tile + (<usize>(ii * GEMM_NR + jj) << 2)));
    }
  }
}

/**
 * The 4×8 micro-kernel: C tile (+)= Σ_k a(·, k) ⊗ b[k][0..8), where a(ii, k) = a + ii·aRow + k·aK
 * (row-major A: aRow = lda·4, aK = 4; transposed or packed A: aRow = 4) and b[k] = b + k·bK
 * (a packed B panel: bK = 32).
 */
// @ts-ignore: decorator
@inline export function micro4x8(kc: i32, a: usize, aRow: usize, aK: usize, b: usize, bK: usize, c: usize, ldcBytes: usize, first: bool): void {
  let vc00 = f32x4.splat(0), vc01 = f32x4.splat(0);
  let vc10 = f32x4.splat(0), vc11 = f32x4.splat(0);
  let vc20 = f32x4.splat(0), vc21 = f32x4.splat(0);
  let vc30 = f32x4.splat(0), vc31 = f32x4.splat(0);
  const c1 = c + ldcBytes, c2 = c1 + ldcBytes, c3 = c2 + ldcBytes;
  if (!first) {
    vc00 = v128.load(c); vc01 = v128.load(c, 16);
    vc10 = v128.load(c1); vc11 = v128.load(c1, 16);
    vc20 = v128.load(c2); vc21 = v128.load(c2, 16);
    vc30 = v128.load(c3); vc31 = v128.load(c3, 16);
  }
  let a0 = a, a1 = a + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
  for (let k = 0; k < kc; k++) {
    const vb0 = v128.load(b), vb1 = v128.load(b, 16);
    const va0 = v128.load32_splat(a0);
    vc00 = madd(va0, vb0, vc00);
    vc01 = madd(va0, vb1, vc01);
    const va1 = v128.load32_splat(a1);
    vc10 = madd(va1, vb0, vc10);
    vc11 = madd(va1, vb1, vc11);
    const va2 = v128.load32_splat(a2);
    vc20 = madd(va2, vb0, vc20);
    vc21 = madd(va2, vb1, vc21);
    const va3 = v128.load32_splat(a3);
    vc30 = madd(va3, vb0, vc30);
    vc31 = madd(va3, vb1, vc31);
    a0 += aK; a1 += aK; a2 += aK; a3 += aK;
    b += bK;
  }
  v128.store(c, vc00); v128.store(c, vc01, 16);
  v128.store(c1, vc10); v128.store(c1, vc11, 16);
  v128.store(c2, vc20); v128.store(c2, vc21, 16);
  v128.store(c3, vc30); v128.store(c3, vc31, 16);
}
