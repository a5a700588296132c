// Peer: jax-js 0.1.25 on its WASM device. In Node 20 it runs on one thread (its worker pool needs a
// global `Worker`). The model is written twice (perf.md §8):
//  - 'conv':   its own lax.conv (NCHW data, OIHW weights), max-pool as reshape + max;
//  - 'im2col': NHWC, each conv as im2col + matmul, one kernel row (5 shifted slices) per matmul.
// Every function is jit-compiled once per shape. jax-js arrays are reference-counted with move
// semantics: a call consumes its array arguments, so the stored weights are passed as `.ref`.
import { defaultDevice, init, jit, nn, numpy as np, lax, tree, valueAndGrad, grad, type Array as JaxArray } from '@jax-js/jax';
import { CLASSES, IMAGE, fc1ToHwcRows, oihwToHwio, transposeDense, type Peer, type Weights } from './model.ts';

export type JaxVariant = 'conv' | 'im2col';
export type JaxOptimizer = 'adam' | 'sgd';

export interface JaxOptions {
  variant: JaxVariant;
  /** Train-step update (default 'adam', lr 1e-3; 'sgd': lr 0.01, no momentum). */
  optimizer?: JaxOptimizer;
  learningRate?: number;
}

type Params = { w1: JaxArray; b1: JaxArray; w2: JaxArray; b2: JaxArray; w3: JaxArray; b3: JaxArray; w4: JaxArray; b4: JaxArray };

let deviceReady: Promise<void> | undefined;
function initDevice(): Promise<void> {
  deviceReady ??= (async () => {
    const devices = await init('wasm');
    if (!devices.includes('wasm')) throw new Error(`jax-js: no wasm device (got ${devices.join(', ')})`);
    defaultDevice('wasm');
  })();
  return deviceReady;
}

const arr = (data: Float32Array, shape: number[]) => np.array(data, { shape });

function params(W: Weights, variant: JaxVariant): Params {
  const conv = variant === 'conv';
  return {
    // conv: OIHW as stored; im2col: HWIO flattened to [25·Cin, Cout], rows in (kh, kw, cin) order.
    w1: conv ? arr(W['conv1.weight'].data, [32, 1, 5, 5]) : arr(oihwToHwio(W['conv1.weight']), [25, 32]),
    b1: arr(W['conv1.bias'].data, conv ? [1, 32, 1, 1] : [32]),
    w2: conv ? arr(W['conv2.weight'].data, [64, 32, 5, 5]) : arr(oihwToHwio(W['conv2.weight']), [800, 64]),
    b2: arr(W['conv2.bias'].data, conv ? [1, 64, 1, 1] : [64]),
    // conv flattens NCHW, i.e. in PyTorch's (C,H,W) order; im2col flattens NHWC.
    w3: arr(conv ? transposeDense(W['fc1.weight']) : fc1ToHwcRows(W['fc1.weight']), [3136, 1024]),
    b3: arr(W['fc1.bias'].data, [1024]),
    w4: arr(transposeDense(W['fc2.weight']), [1024, CLASSES]),
    b4: arr(W['fc2.bias'].data, [CLASSES]),
  };
}

/** 2×2/2 max-pool over the two spatial axes `ah`, `ah + 2` after splitting them. */
function pool2(x: JaxArray, nchw: boolean): JaxArray {
  const [n, a, b, c] = x.shape;
  return nchw ? np.max(x.reshape([n, a, b / 2, 2, c / 2, 2]), [3, 5]) : np.max(x.reshape([n, a / 2, 2, b / 2, 2, c]), [2, 4]);
}

/**
 * SAME 5×5 conv as im2col + matmul, NHWC in and out, + bias, ReLU. The patches are built one kernel
 * row at a time (5 shifted slices concatenated: [N·H·W, 5·Cin]), each times its [5·Cin, Cout] block
 * of the weight, summed. NOTE: the one-shot 25-slice concatenation is ~2× slower in jax-js 0.1.25
 * (conv2 at batch 100: ~630 vs ~290 ms forward), its concat cost grows with the number of pieces.
 */
function convIm2col(x: JaxArray, w: JaxArray, b: JaxArray): JaxArray {
  const [n, h, wd, c] = x.shape;
  const cout = w.shape[1];
  const xp = np.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]]);
  const wRows = w.reshape([5, 5 * c, cout]);
  let acc: JaxArray | undefined;
  for (let ky = 0; ky < 5; ky++) {
    const cols: JaxArray[] = [];
    for (let kx = 0; kx < 5; kx++) cols.push(xp.ref.slice([], [ky, ky + h], [kx, kx + wd], []));
    const part = np.matmul(np.concatenate(cols, 3).reshape([n * h * wd, 5 * c]), wRows.ref.slice(ky));
    acc = acc ? np.add(acc, part) : part;
  }
  xp.dispose();
  wRows.dispose();
  return nn.relu(np.add(acc!, b)).reshape([n, h, wd, cout]);
}

function logitsConv(p: Params, x: JaxArray): JaxArray {
  const n = x.shape[0];
  let h = x.reshape([n, 1, IMAGE.h, IMAGE.w]); // NHWC with C = 1 is NCHW already
  h = pool2(nn.relu(np.add(lax.conv(h, p.w1, [1, 1], 'SAME'), p.b1)), true);
  h = pool2(nn.relu(np.add(lax.conv(h, p.w2, [1, 1], 'SAME'), p.b2)), true);
  const f = nn.relu(np.add(np.matmul(h.reshape([n, 3136]), p.w3), p.b3));
  return np.add(np.matmul(f, p.w4), p.b4);
}

function logitsIm2col(p: Params, x: JaxArray): JaxArray {
  const n = x.shape[0];
  let h = pool2(convIm2col(x, p.w1, p.b1), false);
  h = pool2(convIm2col(h, p.w2, p.b2), false);
  const f = nn.relu(np.add(np.matmul(h.reshape([n, 3136]), p.w3), p.b3));
  return np.add(np.matmul(f, p.w4), p.b4);
}

/** Mean softmax cross-entropy; `y` holds int32 labels. */
function meanXent(logits: JaxArray, y: JaxArray): JaxArray {
  return np.negative(np.mean(np.sum(np.multiply(nn.oneHot(y, CLASSES), nn.logSoftmax(logits)), 1)));
}

export async function createJaxPeer(W: Weights, opts: JaxOptions): Promise<Peer> {
  await initDevice();
  const optimizer = opts.optimizer ?? 'adam';
  const lr = opts.learningRate ?? (optimizer === 'adam' ? 1e-3 : 0.01);
  const logits = opts.variant === 'conv' ? logitsConv : logitsIm2col;
  const lossOf = (p: Params, x: JaxArray, y: JaxArray) => meanXent(logits(p, x), y);

  const frozen = params(W, opts.variant);
  let trained = params(W, opts.variant);
  let m = tree.map((a: JaxArray) => np.zerosLike(a.ref), trained) as Params;
  let v = tree.map((a: JaxArray) => np.zerosLike(a.ref), trained) as Params;
  let step = 0;

  const forwardJ = jit((p: Params, x: JaxArray) => logits(p, x));
  const inputGradJ = jit((p: Params, x: JaxArray, y: JaxArray) => grad((xx: JaxArray) => lossOf(p, xx, y))(x));
  const lossAndGrads = valueAndGrad(lossOf, { argnums: 0 });
  // Adam with the bias corrections folded into `stepSize` = lr·√(1−β₂ᵗ)/(1−β₁ᵗ), passed as an array.
  const adamJ = jit((p: Params, m0: Params, v0: Params, stepSize: JaxArray, x: JaxArray, y: JaxArray) => {
    const [loss, g] = lossAndGrads(tree.ref(p) as Params, x, y);
    const keys = Object.keys(p) as (keyof Params)[];
    const mo = {} as Params, vo = {} as Params, po = {} as Params;
    for (const k of keys) {
      mo[k] = np.add(np.multiply(m0[k], 0.9), np.multiply(g[k].ref, 0.1));
      vo[k] = np.add(np.multiply(v0[k], 0.999), np.multiply(np.square(g[k]), 0.001));
      po[k] = np.subtract(p[k], np.multiply(stepSize.ref, np.divide(mo[k].ref, np.add(np.sqrt(vo[k].ref), 1e-8))));
    }
    stepSize.dispose();
    return [loss, po, mo, vo];
  });
  const sgdJ = jit((p: Params, x: JaxArray, y: JaxArray) => {
    const [loss, g] = lossAndGrads(tree.ref(p) as Params, x, y);
    const po = {} as Params;
    for (const k of Object.keys(p) as (keyof Params)[]) po[k] = np.subtract(p[k], np.multiply(g[k], lr));
    return [loss, po];
  });

  const refs = (p: Params) => tree.ref(p) as Params;
  const input = (x: Float32Array) => {
    const n = x.length / (IMAGE.h * IMAGE.w * IMAGE.c);
    if (!Number.isInteger(n) || n < 1) throw new Error(`x: length ${x.length} is not a multiple of 28·28`);
    return np.array(x, { shape: [n, IMAGE.h, IMAGE.w, IMAGE.c] });
  };
  const labels = (y: Int32Array) => np.array(y, { dtype: np.int32 });

  return {
    name: `jax-js (${opts.variant})`,
    threads: 1,
    optimizer: optimizer === 'adam' ? `Adam(lr ${lr})` : `SGD(lr ${lr})`,
    async forward(x) {
      return (await forwardJ(refs(frozen), input(x)).data()) as Float32Array;
    },
    async inputGrad(x, y) {
      return (await inputGradJ(refs(frozen), input(x), labels(y)).data()) as Float32Array;
    },
    async trainStep(x, y) {
      let loss: JaxArray;
      if (optimizer === 'adam') {
        step++;
        const stepSize = np.array(lr * Math.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step));
        [loss, trained, m, v] = adamJ(trained, m, v, stepSize, input(x), labels(y)) as [JaxArray, Params, Params, Params];
      } else {
        [loss, trained] = sgdJ(trained, input(x), labels(y)) as [JaxArray, Params];
      }
      return (await loss.data())[0];
    },
    dispose() {
      tree.dispose([frozen, trained, m, v]);
      forwardJ.dispose();
      inputGradJ.dispose();
      adamJ.dispose();
      sgdJ.dispose();
    },
  };
}
