// TS wrappers of the per-example loss kernels (assembly/loss.ts): softmax cross-entropy and the
// Carlini-Wagner margin loss, forward and backward.
// Shapes: logits, dlogits: (batch, classes) row-major f32; labels: (batch) i32 in [0, classes);
// losses, dlosses: (batch) f32. dlosses is the cotangent of the per-example losses (e.g. 1/batch
// for a mean). In place: dlogits == logits is allowed. Threading: examples; no reduction.
import type { Engine } from '../wasm/engine.ts';
import type { KernelName } from '../wasm/exports.ts';
import { Params } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { checkBuf, checkDisjoint, checkI32Buf, checkInt, type I32Buf } from './check.ts';

export type { I32Buf } from './check.ts';

export interface LossArgs {
  logits: F32Buf;
  labels: I32Buf;
  losses: F32Buf;
  batch: number;
  classes: number;
}

export interface LossBackwardArgs {
  logits: F32Buf;
  labels: I32Buf;
  dlosses: F32Buf;
  dlogits: F32Buf;
  batch: number;
  classes: number;
}

/** Copies int labels into a new arena buffer (rejects non-integers). */
export function labelsFrom(engine: Engine, data: ArrayLike<number>): I32Buf {
  const ptr = engine.arena.alloc(data.length * 4);
  const view = engine.arena.i32(ptr, data.length);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isInteger(data[i])) throw new RangeError(`labelsFrom: data[${i}] must be an integer, got ${data[i]}`);
    view[i] = data[i];
  }
  return { ptr, length: data.length };
}

function checkCommon(engine: Engine, fn: string, args: { logits: F32Buf; labels: I32Buf; batch: number; classes: number }, minClasses: number) {
  const batch = checkInt(fn, 'batch', args.batch), classes = checkInt(fn, 'classes', args.classes, minClasses);
  checkBuf(fn, 'logits', args.logits, batch * classes);
  checkI32Buf(fn, 'labels', args.labels, batch);
  // Labels index the logits row inside the kernels: out-of-range values would touch other memory.
  const labels = engine.arena.i32(args.labels.ptr, batch);
  for (let i = 0; i < batch; i++) {
    if (labels[i] < 0 || labels[i] >= classes) throw new RangeError(`${fn}: labels[${i}] = ${labels[i]} is out of range [0, ${classes})`);
  }
  checkDisjoint(fn, 'labels', args.labels, batch, 'logits', args.logits, batch * classes);
  return { batch, classes };
}

function forward(engine: Engine, fn: string, kernel: KernelName, args: LossArgs, minClasses: number): void {
  const { batch, classes } = checkCommon(engine, fn, args, minClasses);
  checkBuf(fn, 'losses', args.losses, batch);
  checkDisjoint(fn, 'losses', args.losses, batch, 'logits', args.logits, batch * classes);
  checkDisjoint(fn, 'losses', args.losses, batch, 'labels', args.labels, batch);
  const p = new Params().i32(batch).i32(classes).ptr(args.logits).i32(args.labels.ptr).ptr(args.losses);
  engine.run(kernel, p, batch, 10 * batch * classes);
}

function backward(engine: Engine, fn: string, kernel: KernelName, args: LossBackwardArgs, minClasses: number): void {
  const { batch, classes } = checkCommon(engine, fn, args, minClasses);
  const n = batch * classes;
  checkBuf(fn, 'dlosses', args.dlosses, batch);
  checkBuf(fn, 'dlogits', args.dlogits, n);
  checkDisjoint(fn, 'dlogits', args.dlogits, n, 'logits', args.logits, n, true);
  checkDisjoint(fn, 'dlogits', args.dlogits, n, 'labels', args.labels, batch);
  checkDisjoint(fn, 'dlogits', args.dlogits, n, 'dlosses', args.dlosses, batch);
  const p = new Params().i32(batch).i32(classes).ptr(args.logits).i32(args.labels.ptr).ptr(args.dlosses).ptr(args.dlogits);
  engine.run(kernel, p, batch, 10 * batch * classes);
}

/** losses[i] = logsumexp(logits[i, :]) − logits[i, labels[i]]. */
export function softmaxCrossEntropy(engine: Engine, args: LossArgs): void {
  forward(engine, 'softmaxCrossEntropy', 'f32_softmax_xent_fwd', args, 1);
}

/** dlogits[i, :] = (softmax(logits[i, :]) − onehot(labels[i])) · dlosses[i]. */
export function softmaxCrossEntropyBackward(engine: Engine, args: LossBackwardArgs): void {
  backward(engine, 'softmaxCrossEntropyBackward', 'f32_softmax_xent_bwd', args, 1);
}

/** losses[i] = max_{j≠y} logits[i, j] − logits[i, y], y = labels[i] (needs classes ≥ 2). */
export function marginLoss(engine: Engine, args: LossArgs): void {
  forward(engine, 'marginLoss', 'f32_margin_loss_fwd', args, 2);
}

/**
 * dlogits[i, :] = dlosses[i] · (e_{j*} − e_y), j* the first j ≠ y holding the maximum.
 * NOTE: ties go to the first maximum (argmax order).
 */
export function marginLossBackward(engine: Engine, args: LossBackwardArgs): void {
  backward(engine, 'marginLossBackward', 'f32_margin_loss_bwd', args, 2);
}
