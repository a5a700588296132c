// Per-example classification losses over the loss kernels (assembly/loss.ts):
//   softmaxCrossEntropy: loss_i = logsumexp(z_i) − z_i[y_i]
//   marginLoss (CW):     loss_i = max_{j≠y_i} z_ij − z_i[y_i]   (attacks maximise it)
// logits (B, K) → losses (B). Labels are int32 in [0, K); reduce with mean() for a scalar.
import { labelsFrom, marginLoss as marginKernel, marginLossBackward, softmaxCrossEntropy as xentKernel, softmaxCrossEntropyBackward } from '../kernels/loss.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';
import { defineOp, type OpContext } from './registry.ts';

export interface LossAttrs {
  labels: Int32Array;
}

type I32Buf = ReturnType<typeof labelsFrom>;

function labelsBuf(fn: string, engine: Engine, logits: Tensor, labels: Int32Array): I32Buf {
  if (logits.rank !== 2) throw new RangeError(`${fn}: logits must be (batch, classes), got shape [${logits.shape}]`);
  const [batch, classes] = logits.shape;
  if (!(labels instanceof Int32Array)) {
    const got = Array.isArray(labels) ? 'a plain Array (use Int32Array.from(labels))' : labels === null ? 'null' : ((labels as object)?.constructor?.name ?? typeof labels);
    throw new TypeError(`${fn}: labels must be an Int32Array, got ${got}`);
  }
  if (labels.length !== batch) throw new RangeError(`${fn}: labels has ${labels.length} values, the logits' batch is ${batch}`);
  for (let i = 0; i < batch; i++) {
    if (labels[i] < 0 || labels[i] >= classes) throw new RangeError(`${fn}: labels[${i}] = ${labels[i]} is out of range [0, ${classes})`);
  }
  return labelsFrom(engine, labels);
}

type Kernel = typeof xentKernel;
type Backward = typeof softmaxCrossEntropyBackward;

function lossOp(name: string, fwd: Kernel, bwd: Backward) {
  return defineOp<LossAttrs>({
    name,
    inputs: ['logits'],
    save: ['logits'],
    forward(ctx, [logits], { labels }) {
      const engine = ctx.engine;
      const lab = labelsBuf(name, engine, logits!, labels);
      ctx.extra.labels = lab;
      const [batch, classes] = logits!.shape;
      const losses = Tensor.empty(engine, [batch]);
      fwd(engine, { logits: logits!.buf, labels: lab, losses: losses.buf, batch, classes });
      return losses;
    },
    vjp({ engine, saved, extra }: OpContext<LossAttrs>, dy) {
      const [batch, classes] = saved.logits.shape;
      const dlogits = Tensor.empty(engine, saved.logits.shape);
      bwd(engine, { logits: saved.logits.buf, labels: extra.labels as I32Buf, dlosses: dy.buf, dlogits: dlogits.buf, batch, classes });
      return [dlogits];
    },
  });
}

const xentOp = lossOp('softmaxCrossEntropy', xentKernel, softmaxCrossEntropyBackward);
const marginOp = lossOp('marginLoss', marginKernel, marginLossBackward);

export const softmaxCrossEntropy = (logits: Tensor, labels: Int32Array): Tensor => xentOp([logits], { labels });
export const marginLoss = (logits: Tensor, labels: Int32Array): Tensor => marginOp([logits], { labels });
