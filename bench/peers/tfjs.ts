// Peer: TensorFlow.js 4.22 on its WASM backend (XNNPACK, SIMD, one thread in Node: perf.md §5).
// Forward with the fused ops (conv + bias + ReLU, matMul + bias + ReLU) as in perf.md §1; the
// gradients go through unfused ops (the fused conv's gradient would also ask for the filter gradient).
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { CLASSES, IMAGE, fc1ToHwcRows, oihwToHwio, transposeDense, type Peer, type Weights } from './model.ts';

export interface TfjsOptions {
  /** Learning rate of the Adam train step (default 1e-3). */
  learningRate?: number;
}

let backendReady: Promise<void> | undefined;

/** Selects the wasm backend once per process; its .wasm files are read from node_modules. */
function initBackend(): Promise<void> {
  backendReady ??= (async () => {
    const dir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
    setWasmPaths(dir + '/');
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: setBackend("wasm") failed');
    await tf.ready();
  })();
  return backendReady;
}

type Vars = { w1: tf.Tensor4D; b1: tf.Tensor1D; w2: tf.Tensor4D; b2: tf.Tensor1D; w3: tf.Tensor2D; b3: tf.Tensor1D; w4: tf.Tensor2D; b4: tf.Tensor1D };

function tensors(W: Weights, make: (t: tf.Tensor) => tf.Tensor): Vars {
  return {
    w1: make(tf.tensor4d(oihwToHwio(W['conv1.weight']), [5, 5, 1, 32])) as tf.Tensor4D,
    b1: make(tf.tensor1d(W['conv1.bias'].data)) as tf.Tensor1D,
    w2: make(tf.tensor4d(oihwToHwio(W['conv2.weight']), [5, 5, 32, 64])) as tf.Tensor4D,
    b2: make(tf.tensor1d(W['conv2.bias'].data)) as tf.Tensor1D,
    w3: make(tf.tensor2d(fc1ToHwcRows(W['fc1.weight']), [3136, 1024])) as tf.Tensor2D,
    b3: make(tf.tensor1d(W['fc1.bias'].data)) as tf.Tensor1D,
    w4: make(tf.tensor2d(transposeDense(W['fc2.weight']), [1024, CLASSES])) as tf.Tensor2D,
    b4: make(tf.tensor1d(W['fc2.bias'].data)) as tf.Tensor1D,
  };
}

const pool = (x: tf.Tensor4D) => tf.maxPool(x, 2, 2, 'valid');

function forwardFused(v: Vars, x: tf.Tensor4D): tf.Tensor2D {
  let h = pool(tf.fused.conv2d({ x, filter: v.w1, strides: 1, pad: 'same', bias: v.b1, activation: 'relu' }));
  h = pool(tf.fused.conv2d({ x: h, filter: v.w2, strides: 1, pad: 'same', bias: v.b2, activation: 'relu' }));
  const f = tf.fused.matMul({ a: tf.reshape(h, [h.shape[0], -1]), b: v.w3, bias: v.b3, activation: 'relu' });
  return tf.fused.matMul({ a: f, b: v.w4, bias: v.b4 }) as tf.Tensor2D;
}

function forwardPlain(v: Vars, x: tf.Tensor4D): tf.Tensor2D {
  let h = pool(tf.relu(tf.add(tf.conv2d(x, v.w1, 1, 'same'), v.b1)) as tf.Tensor4D);
  h = pool(tf.relu(tf.add(tf.conv2d(h, v.w2, 1, 'same'), v.b2)) as tf.Tensor4D);
  const f = tf.relu(tf.add(tf.matMul(tf.reshape(h, [h.shape[0], -1]), v.w3), v.b3));
  return tf.add(tf.matMul(f, v.w4), v.b4);
}

/** Mean softmax cross-entropy over the batch. */
function loss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  const onehot = tf.oneHot(labels, CLASSES);
  return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
}

function input(x: Float32Array): tf.Tensor4D {
  const n = x.length / (IMAGE.h * IMAGE.w * IMAGE.c);
  if (!Number.isInteger(n) || n < 1) throw new Error(`x: length ${x.length} is not a multiple of 28·28`);
  return tf.tensor4d(x, [n, IMAGE.h, IMAGE.w, IMAGE.c]);
}

export async function createTfjsPeer(W: Weights, opts: TfjsOptions = {}): Promise<Peer> {
  await initBackend();
  const lr = opts.learningRate ?? 1e-3;
  const frozen = tensors(W, (t) => t);
  // The train step updates its own variables, so forward / inputGrad keep reading the shared weights.
  const trainable = tensors(W, (t) => {
    const v = tf.variable(t);
    t.dispose();
    return v;
  });
  const varList = Object.values(trainable) as tf.Variable[];
  const adam = tf.train.adam(lr);

  return {
    name: 'tfjs-wasm',
    threads: getThreadsCount(),
    optimizer: `Adam(lr ${lr})`,
    async forward(x) {
      const out = tf.tidy(() => forwardFused(frozen, input(x)));
      const data = (await out.data()) as Float32Array;
      out.dispose();
      return data;
    },
    async inputGrad(x, y) {
      const out = tf.tidy(() => {
        const ys = tf.tensor1d(y, 'int32');
        return tf.grad((xs: tf.Tensor) => loss(forwardPlain(frozen, xs as tf.Tensor4D), ys))(input(x));
      });
      const data = (await out.data()) as Float32Array;
      out.dispose();
      return data;
    },
    async trainStep(x, y) {
      const value = tf.tidy(() => {
        const xs = input(x), ys = tf.tensor1d(y, 'int32');
        return adam.minimize(() => loss(forwardPlain(trainable, xs), ys), true, varList)!;
      });
      const l = (await value.data())[0];
      value.dispose();
      return l;
    },
    dispose() {
      for (const t of Object.values(frozen)) t.dispose();
      for (const t of varList) t.dispose();
      adam.dispose();
    },
  };
}
