// Models. The paper's MNIST CNN (Madry et al.'s MNIST challenge net; paper.md §1.2; its ReLUs fused
// into the pools and fc1), NHWC input
// (N, 28, 28, 1) in [0, 1] → logits (N, 10). Module names match the PyTorch port (conv1, conv2,
// fc1, fc2), so checkpoints round-trip with a PyTorch state_dict (see nn/checkpoint.ts).
import type { Engine } from '../wasm/engine.ts';
import { Rng } from './init.ts';
import { Conv2d, Dense, Flatten, MaxPool2d, Sequential } from './layers.ts';

/** Widths: the paper's are 32, 64, 1024; tests use smaller ones. */
export interface MnistCnnWidths {
  c1: number;
  c2: number;
  hidden: number;
}

export function mnistCnn(engine: Engine, seed = 0, { c1, c2, hidden }: MnistCnnWidths = { c1: 32, c2: 64, hidden: 1024 }): Sequential {
  const rng = new Rng(seed);
  return new Sequential({
    // conv → ReLU → pool, run as conv → pool+ReLU (the same function and gradient, see MaxPool2d).
    conv1: new Conv2d(engine, 1, c1, 5, { padding: 'same', rng }), pool1: new MaxPool2d({ activation: 'relu' }),
    conv2: new Conv2d(engine, c1, c2, 5, { padding: 'same', rng }), pool2: new MaxPool2d({ activation: 'relu' }),
    flatten: new Flatten(),
    fc1: new Dense(engine, 7 * 7 * c2, hidden, { rng, flattenedFrom: [7, 7, c2], activation: 'relu' }),
    fc2: new Dense(engine, hidden, 10, { rng }),
  });
}
