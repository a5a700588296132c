// Layers: each call() is one line over ops. Weights: conv HWIO (KH, KW, Cin, Cout), dense (in, out).
// `activation: 'relu'` on Conv2d and Dense fuses the ReLU into the layer's kernel call (same values
// as a separate ReLU layer, one pass over the activations less).
import { conv2d, dense, flatten, maxPool2d, relu } from '../ops/index.ts';
import type { Padding } from '../kernels/conv2d.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';
import { glorotUniform, zeros, Rng, type Initializer } from './init.ts';
import { Module } from './module.ts';

export interface InitOptions {
  rng: Rng;
  init?: Initializer;
  biasInit?: Initializer;
}

/** Layers know one activation; anything else is an error, not a silently linear layer. */
function checkActivation(layer: string, activation: unknown): void {
  if (activation !== undefined && activation !== 'relu') throw new RangeError(`${layer}: activation must be 'relu' or undefined, got '${activation}'`);
}

function param(engine: Engine, shape: number[], init: Initializer, fanIn: number, fanOut: number, rng: Rng): Tensor {
  const t = Tensor.empty(engine, shape, { persistent: true });
  const values = new Float32Array(t.size);
  init(values, fanIn, fanOut, rng);
  t.view().set(values);
  return t;
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(engine: Engine, readonly cin: number, readonly cout: number, readonly kernel: number, readonly opts: InitOptions & { stride?: number; padding?: Padding; activation?: 'relu' }) {
    super();
    checkActivation('Conv2d', opts.activation);
    const k = kernel, init = opts.init ?? glorotUniform;
    this.weight = this.addParam('weight', param(engine, [k, k, cin, cout], init, k * k * cin, k * k * cout, opts.rng));
    this.bias = this.addParam('bias', param(engine, [cout], opts.biasInit ?? zeros, cin, cout, opts.rng));
  }

  call(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.opts.stride, padding: this.opts.padding, relu: this.opts.activation === 'relu' });
  }
}

export class Dense extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  /** (H, W, C) when the input is an NHWC activation flattened: fixes the PyTorch (C, H, W) order in checkpoints. */
  readonly flattenedFrom: [number, number, number] | null;

  readonly activation: 'relu' | null;

  constructor(engine: Engine, readonly inFeatures: number, readonly outFeatures: number, opts: InitOptions & { flattenedFrom?: [number, number, number]; activation?: 'relu' }) {
    super();
    // Validated before any allocation: a throwing constructor leaves no parameters behind.
    checkActivation('Dense', opts.activation);
    const from = opts.flattenedFrom ?? null;
    if (from && (from.length !== 3 || from.reduce((a, b) => a * b, 1) !== inFeatures)) {
      throw new RangeError(`Dense: flattenedFrom [${from}] must be (H, W, C) with H·W·C = inFeatures ${inFeatures}`);
    }
    this.flattenedFrom = from;
    this.activation = opts.activation ?? null;
    this.weight = this.addParam('weight', param(engine, [inFeatures, outFeatures], opts.init ?? glorotUniform, inFeatures, outFeatures, opts.rng));
    this.bias = this.addParam('bias', param(engine, [outFeatures], opts.biasInit ?? zeros, inFeatures, outFeatures, opts.rng));
  }

  call(x: Tensor): Tensor {
    return dense(x, this.weight, this.bias, { relu: this.activation === 'relu' });
  }
}

export class ReLU extends Module {
  call(x: Tensor): Tensor {
    return relu(x);
  }
}

/**
 * 2×2 max-pool, stride 2. `activation: 'relu'` applies a ReLU to the pooled map in the same kernel:
 * equal to ReLU then pool (values and gradients), at a quarter of the cost.
 */
export class MaxPool2d extends Module {
  constructor(readonly opts: { activation?: 'relu' } = {}) {
    super();
    checkActivation('MaxPool2d', opts.activation);
  }

  call(x: Tensor): Tensor {
    return maxPool2d(x, { relu: this.opts.activation === 'relu' });
  }
}

/** (N, H, W, C) → (N, H·W·C) in NHWC order. */
export class Flatten extends Module {
  call(x: Tensor): Tensor {
    return flatten(x);
  }
}

export class Sequential extends Module {
  readonly layers: Module[];

  /** Layers in order; named (an object) or numbered (an array). */
  constructor(layers: Record<string, Module> | Module[]) {
    super();
    const entries = Array.isArray(layers) ? layers.map((m, i) => [String(i), m] as const) : Object.entries(layers);
    for (const [name, m] of entries) this.addChild(name, m);
    this.layers = entries.map(([, m]) => m);
  }

  call(x: Tensor): Tensor {
    for (const layer of this.layers) x = layer.call(x);
    return x;
  }
}
