// Dense layer and matrix product over the GEMM kernel (assembly/gemm.ts).
//   dense:  y (B, out) = x (B, in) · W (in, out) + b (out); attrs.relu fuses a ReLU into the GEMM's epilogue
//   matmul: y (M, N) = a (M, K) · b (K, N)
import { biasBackward } from '../kernels/activation.ts';
import { gemm } from '../kernels/gemm.ts';
import { Tensor } from '../tensor.ts';
import { maskByRelu } from './elementwise.ts';
import { defineOp } from './registry.ts';

function check2d(fn: string, name: string, t: Tensor): [number, number] {
  if (t.rank !== 2) throw new RangeError(`${fn}: ${name} must be 2-D, got shape [${t.shape}]`);
  return [t.shape[0], t.shape[1]];
}

/** Gradients of a·b: da = dy·bᵀ, db = aᵀ·dy, each only when needed. */
function matmulGrads(a: Tensor, b: Tensor, dy: Tensor, needA: boolean, needB: boolean): [Tensor | null, Tensor | null] {
  const engine = a.engine;
  const [M, K] = a.shape, N = b.shape[1];
  let da: Tensor | null = null, db: Tensor | null = null;
  if (needA) {
    da = Tensor.empty(engine, [M, K]);
    gemm(engine, { M, N: K, K: N, a: dy.buf, b: b.buf, c: da.buf, transB: true });
  }
  if (needB) {
    db = Tensor.empty(engine, [K, N]);
    gemm(engine, { M: K, N, K: M, a: a.buf, b: dy.buf, c: db.buf, transA: true });
  }
  return [da, db];
}

const matmulOp = defineOp({
  name: 'matmul',
  inputs: ['a', 'b'],
  save: ['a', 'b'],
  forward({ engine }, [a, b]) {
    const [M, K] = check2d('matmul', 'a', a!), [K2, N] = check2d('matmul', 'b', b!);
    if (K !== K2) throw new RangeError(`matmul: a [${a!.shape}] and b [${b!.shape}] do not chain`);
    const y = Tensor.empty(engine, [M, N]);
    gemm(engine, { M, N, K, a: a!.buf, b: b!.buf, c: y.buf });
    return y;
  },
  vjp({ saved }, dy, needs) {
    return matmulGrads(saved.a, saved.b, dy, needs[0], needs[1]);
  },
});

export interface DenseAttrs {
  /** Fuse a ReLU after the bias. */
  relu?: boolean;
}

const denseOp = defineOp<DenseAttrs>({
  name: 'dense',
  inputs: ['x', 'w', 'b?'],
  save: ['x', 'w', 'out'],
  forward({ engine }, [x, w, b], attrs) {
    const [B, I] = check2d('dense', 'x', x!), [I2, O] = check2d('dense', 'w', w!);
    if (I !== I2) throw new RangeError(`dense: x [${x!.shape}] has ${I} features, w [${w!.shape}] expects ${I2}`);
    if (b && (b.rank !== 1 || b.shape[0] !== O)) throw new RangeError(`dense: b must have shape [${O}], got [${b.shape}]`);
    const y = Tensor.empty(engine, [B, O]);
    gemm(engine, { M: B, N: O, K: I, a: x!.buf, b: w!.buf, c: y.buf, bias: b ? b.buf : null, relu: !!attrs.relu });
    return y;
  },
  vjp({ engine, saved, attrs }, dy, needs) {
    if (attrs.relu) dy = maskByRelu(dy, saved.out);
    const [dx, dw] = matmulGrads(saved.x, saved.w, dy, needs[0], needs[1]);
    let db: Tensor | null = null;
    if (needs[2]) {
      db = Tensor.empty(engine, [dy.shape[1]]);
      biasBackward(engine, { dy: dy.buf, db: db.buf, rows: dy.shape[0], cols: dy.shape[1] });
    }
    return [dx, dw, db];
  },
});

export const matmul = (a: Tensor, b: Tensor): Tensor => matmulOp([a, b], {});
export const dense = (x: Tensor, w: Tensor, b: Tensor | null = null, attrs: DenseAttrs = {}): Tensor => denseOp([x, w, b], attrs);
