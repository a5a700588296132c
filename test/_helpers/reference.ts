// float64 reference implementations, written for clarity. Kernel tests compare against these.

/** C = act((acc ? C : 0) + op(A)·op(B) + bias), dense row-major, float64. */
export function gemmRef(o: {
  M: number; N: number; K: number;
  a: ArrayLike<number>; b: ArrayLike<number>; c?: ArrayLike<number>;
  transA?: boolean; transB?: boolean; lda?: number; ldb?: number; ldc?: number;
  accumulate?: boolean; relu?: boolean; bias?: ArrayLike<number> | null;
}): Float64Array {
  const { M, N, K } = o;
  const lda = o.lda ?? (o.transA ? M : K);
  const ldb = o.ldb ?? (o.transB ? K : N);
  const ldc = o.ldc ?? N;
  const out = new Float64Array(M === 0 ? 0 : (M - 1) * ldc + N);
  if (o.c) for (let i = 0; i < out.length; i++) out[i] = o.c[i];
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const a = o.transA ? o.a[k * lda + i] : o.a[i * lda + k];
        const b = o.transB ? o.b[j * ldb + k] : o.b[k * ldb + j];
        s += a * b;
      }
      if (o.accumulate) s += o.c![i * ldc + j];
      if (o.bias) s += o.bias[j];
      if (o.relu) s = Math.max(s, 0);
      out[i * ldc + j] = s;
    }
  }
  return out;
}
