// Elementwise ops: add, sub, mul (same shapes), neg, scale (x·c), addScalar, relu, biasAdd.
// The arithmetic ops are plain loops over the arena (cheap next to conv/dense); relu and biasAdd
// call the activation kernels (assembly/activation.ts).
import { biasAdd as biasAddKernel, biasBackward, leakyRelu as leakyReluKernel, leakyReluBackward, relu as reluKernel, reluBackward } from '../kernels/activation.ts';
import { Tensor } from '../tensor.ts';
import { defineOp } from './registry.ts';

function sameShape(fn: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(`${fn}: shapes [${a.shape}] and [${b.shape}] differ`);
  }
}

/** out[i] = f(a[i], b[i]) into a new tensor. */
function zip(a: Tensor, b: Tensor, f: (x: number, y: number) => number): Tensor {
  const out = Tensor.empty(a.engine, a.shape);
  const o = out.view(), x = a.view(), y = b.view();
  for (let i = 0; i < o.length; i++) o[i] = f(x[i], y[i]);
  return out;
}

function map(a: Tensor, f: (x: number) => number): Tensor {
  const out = Tensor.empty(a.engine, a.shape);
  const o = out.view(), x = a.view();
  for (let i = 0; i < o.length; i++) o[i] = f(x[i]);
  return out;
}

const addOp = defineOp({
  name: 'add',
  inputs: ['a', 'b'],
  save: [],
  forward(_ctx, [a, b]) {
    sameShape('add', a!, b!);
    return zip(a!, b!, (x, y) => x + y);
  },
  vjp(_ctx, dy, needs) {
    return [needs[0] ? dy : null, needs[1] ? dy : null];
  },
});

const subOp = defineOp({
  name: 'sub',
  inputs: ['a', 'b'],
  save: [],
  forward(_ctx, [a, b]) {
    sameShape('sub', a!, b!);
    return zip(a!, b!, (x, y) => x - y);
  },
  vjp(_ctx, dy, needs) {
    return [needs[0] ? dy : null, needs[1] ? map(dy, (g) => -g) : null];
  },
});

const mulOp = defineOp({
  name: 'mul',
  inputs: ['a', 'b'],
  save: ['a', 'b'],
  forward(_ctx, [a, b]) {
    sameShape('mul', a!, b!);
    return zip(a!, b!, (x, y) => x * y);
  },
  vjp({ saved }, dy, needs) {
    return [needs[0] ? zip(dy, saved.b, (g, y) => g * y) : null, needs[1] ? zip(dy, saved.a, (g, x) => g * x) : null];
  },
});

const scaleOp = defineOp<{ c: number }>({
  name: 'scale',
  inputs: ['x'],
  save: [],
  forward(_ctx, [x], { c }) {
    if (!Number.isFinite(c)) throw new RangeError(`scale: c must be finite, got ${c}`);
    return map(x!, (v) => v * c);
  },
  vjp({ attrs }, dy) {
    return [map(dy, (g) => g * attrs.c)];
  },
});

const addScalarOp = defineOp<{ c: number }>({
  name: 'addScalar',
  inputs: ['x'],
  save: [],
  forward(_ctx, [x], { c }) {
    if (!Number.isFinite(c)) throw new RangeError(`addScalar: c must be finite, got ${c}`);
    return map(x!, (v) => v + c);
  },
  vjp(_ctx, dy) {
    return [dy];
  },
});

// NOTE: relu'(0) = 0 (the kernel passes gradient only where the output is > 0).
/** dy where y > 0, else 0: the vjp of a fused ReLU whose output is y. */
export function maskByRelu(dy: Tensor, y: Tensor): Tensor {
  const masked = Tensor.empty(dy.engine, dy.shape);
  reluBackward(dy.engine, { y: y.buf, dy: dy.buf, dx: masked.buf, n: dy.size });
  return masked;
}

const reluOp = defineOp({
  name: 'relu',
  inputs: ['x'],
  save: ['out'],
  forward({ engine }, [x]) {
    const y = Tensor.empty(engine, x!.shape);
    reluKernel(engine, { x: x!.buf, y: y.buf, n: y.size });
    return y;
  },
  vjp({ engine, saved }, dy) {
    const dx = Tensor.empty(engine, dy.shape);
    reluBackward(engine, { y: saved.out.buf, dy: dy.buf, dx: dx.buf, n: dx.size });
    return [dx];
  },
});

const leakyReluOp = defineOp<{ alpha: number }>({
  name: 'leakyRelu',
  inputs: ['x'],
  save: ['x'],
  forward({ engine }, [x], { alpha }) {
    const y = Tensor.empty(engine, x!.shape);
    leakyReluKernel(engine, { x: x!.buf, y: y.buf, n: y.size, alpha });
    return y;
  },
  vjp({ engine, saved, attrs }, dy) {
    const dx = Tensor.empty(engine, dy.shape);
    leakyReluBackward(engine, { x: saved.x.buf, dy: dy.buf, dx: dx.buf, n: dx.size, alpha: attrs.alpha });
    return [dx];
  },
});

/** x (…, C) + bias (C), broadcast over all leading dimensions; attrs.relu fuses a ReLU (one kernel call). */
const biasAddOp = defineOp<{ relu?: boolean }>({
  name: 'biasAdd',
  inputs: ['x', 'bias'],
  save: ['out'],
  forward({ engine }, [x, bias], attrs) {
    const cols = x!.shape[x!.rank - 1];
    if (bias!.rank !== 1 || bias!.shape[0] !== cols) throw new RangeError(`biasAdd: bias shape [${bias!.shape}] must be [${cols}] (the last dimension of x [${x!.shape}])`);
    const y = Tensor.empty(engine, x!.shape);
    biasAddKernel(engine, { x: x!.buf, bias: bias!.buf, y: y.buf, rows: x!.size / cols, cols, relu: !!attrs.relu });
    return y;
  },
  vjp({ engine, saved, attrs }, dy, needs) {
    if (attrs.relu) dy = maskByRelu(dy, saved.out);
    const cols = dy.shape[dy.rank - 1];
    let db: Tensor | null = null;
    if (needs[1]) {
      db = Tensor.empty(engine, [cols]);
      biasBackward(engine, { dy: dy.buf, db: db.buf, rows: dy.size / cols, cols });
    }
    return [needs[0] ? dy : null, db];
  },
});

export const add = (a: Tensor, b: Tensor): Tensor => addOp([a, b], {});
export const sub = (a: Tensor, b: Tensor): Tensor => subOp([a, b], {});
export const mul = (a: Tensor, b: Tensor): Tensor => mulOp([a, b], {});
export const scale = (x: Tensor, c: number): Tensor => scaleOp([x], { c });
export const neg = (x: Tensor): Tensor => scaleOp([x], { c: -1 });
export const addScalar = (x: Tensor, c: number): Tensor => addScalarOp([x], { c });
export const relu = (x: Tensor): Tensor => reluOp([x], {});
/** x > 0 ? x : α·x elementwise (0 ≤ α < 1). */
export const leakyRelu = (x: Tensor, alpha: number): Tensor => leakyReluOp([x], { alpha });
export const biasAdd = (x: Tensor, bias: Tensor, opts: { relu?: boolean } = {}): Tensor => biasAddOp([x, bias], { relu: !!opts.relu });
