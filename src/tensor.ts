// Tensor: a shaped run of f32 in the engine's arena, plus the autodiff links (grad, tape node).
//
// Memory: a tensor made inside `engine.arena.scope(fn)` is freed when fn returns (unless kept);
// `persistent` tensors (parameters, optimizer state) belong to no scope and live until dispose().
// Never keep a Float32Array from view() across allocations: memory may grow and move.
import type { Engine } from './wasm/engine.ts';
import type { F32Buf } from './wasm/memory.ts';
import type { TapeNode } from './autograd.ts';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(fn: string, shape: Shape): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new RangeError(`${fn}: shape must be an array of non-negative integers, got ${Array.isArray(shape) ? `[${shape}]` : JSON.stringify(shape) ?? String(shape)}`);
  }
  if (!Number.isSafeInteger(sizeOf(shape) * 4)) throw new RangeError(`${fn}: shape [${shape}] has ${sizeOf(shape)} elements, more than any memory holds`);
}

/** Throws unless `data` is a numeric typed array or an array of numbers (a string has a length too). */
function checkData(data: unknown): void {
  if (ArrayBuffer.isView(data) && !(data instanceof DataView) && !(data instanceof BigInt64Array) && !(data instanceof BigUint64Array)) return;
  if (Array.isArray(data)) {
    const bad = data.findIndex((v) => typeof v !== 'number');
    if (bad < 0) return;
    throw new TypeError(`Tensor.from: data must hold numbers, got data[${bad}] = ${JSON.stringify(data[bad]) ?? String(data[bad])}`);
  }
  const got = data === null ? 'null' : typeof data === 'object' ? ((data as object).constructor?.name ?? 'object') : `${typeof data} ${JSON.stringify(data) ?? ''}`.trim();
  throw new TypeError(`Tensor.from: data must be an array or typed array of numbers, got ${got}`);
}

export interface TensorOptions {
  requiresGrad?: boolean;
  /** Allocate outside any arena scope (parameters, optimizer state). */
  persistent?: boolean;
}

export class Tensor {
  readonly engine: Engine;
  readonly buf: F32Buf;
  readonly shape: Shape;
  readonly persistent: boolean;
  requiresGrad: boolean;
  /** Accumulated gradient (leaves only; set by backward, cleared by zeroGrad). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when it is part of a recorded graph. */
  node: TapeNode | null = null;
  /** Optional name (parameters): used in errors and checkpoints. */
  name = '';

  constructor(engine: Engine, buf: F32Buf, shape: Shape, opts: TensorOptions = {}) {
    if (sizeOf(shape) !== buf.length) throw new RangeError(`Tensor: shape [${shape}] has ${sizeOf(shape)} elements, buffer has ${buf.length}`);
    this.engine = engine;
    this.buf = buf;
    this.shape = Object.freeze([...shape]);
    this.persistent = !!opts.persistent;
    this.requiresGrad = !!opts.requiresGrad;
  }

  /** A new uninitialised tensor. */
  static empty(engine: Engine, shape: Shape, opts: TensorOptions = {}): Tensor {
    checkShape('Tensor.empty', shape);
    const n = sizeOf(shape);
    const buf = { ptr: engine.arena.alloc(n * 4, !opts.persistent), length: n };
    return new Tensor(engine, buf, shape, opts);
  }

  static zeros(engine: Engine, shape: Shape, opts: TensorOptions = {}): Tensor {
    const t = Tensor.empty(engine, shape, opts);
    t.view().fill(0);
    return t;
  }

  static full(engine: Engine, shape: Shape, value: number, opts: TensorOptions = {}): Tensor {
    const t = Tensor.empty(engine, shape, opts);
    t.view().fill(value);
    return t;
  }

  /** A tensor holding a copy of `data` (an array or typed array of numbers). */
  static from(engine: Engine, data: ArrayLike<number>, shape: Shape, opts: TensorOptions = {}): Tensor {
    checkData(data);
    checkShape('Tensor.from', shape);
    if (data.length !== sizeOf(shape)) throw new RangeError(`Tensor.from: data has ${data.length} values, shape [${shape}] needs ${sizeOf(shape)}`);
    const t = Tensor.empty(engine, shape, opts);
    t.view().set(data);
    return t;
  }

  get size(): number {
    return this.buf.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** A live view: do not keep it across allocations. */
  view(): Float32Array {
    return this.engine.arena.f32(this.buf.ptr, this.buf.length);
  }

  /** A copy of the values. */
  toArray(): Float32Array {
    return this.view().slice();
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`Tensor.item: tensor has ${this.size} elements, expected 1`);
    return this.view()[0];
  }

  /** Moves this tensor's buffer out of the innermost arena scope into its parent. */
  keep(): this {
    this.engine.arena.keep(this.buf.ptr);
    return this;
  }

  /** Frees a persistent tensor's buffer (and its gradient). */
  dispose(): void {
    if (this.grad) this.grad.dispose();
    this.grad = null;
    this.engine.arena.free(this.buf.ptr);
  }

  toString(): string {
    return `Tensor${this.name ? ` '${this.name}'` : ''}[${this.shape.join(', ')}]`;
  }
}
