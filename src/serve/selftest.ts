// The computations whose bits must agree between Node and a browser (test/browser): the paper's
// CNN's forward pass, the input gradient of its cross-entropy, and three Adam training steps, on
// the first `n` MNIST test images with seeded weights. Each result is an FNV-1a hash of its float32
// bytes (plus its first values, for a readable failure). Runs on any engine; Threading: the engine's.
import { backward } from '../autograd.ts';
import { lossInputGrad } from '../attacks/losses.ts';
import { mnistCnn } from '../nn/models.ts';
import { Adam } from '../nn/optim.ts';
import { mean, softmaxCrossEntropy } from '../ops/index.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';

export interface SelfTestResult {
  hash: string;
  first: number[];
}

/** FNV-1a (32-bit) over the float32 bytes. */
export function hashFloats(v: Float32Array): string {
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

const result = (v: Float32Array): SelfTestResult => ({ hash: hashFloats(v), first: Array.from(v.subarray(0, 4)) });

export function selfTest(engine: Engine, images: Float32Array, labels: Int32Array, n = 50): Record<string, SelfTestResult> {
  const x = images.subarray(0, n * 784), y = labels.subarray(0, n);
  const model = mnistCnn(engine, 7);
  const out: Record<string, SelfTestResult> = {};
  engine.arena.scope(() => {
    const x0 = Tensor.from(engine, x, [n, 28, 28, 1]);
    out.forward = result(model.call(x0).toArray());
    out.inputGradient = result(lossInputGrad(model, x0, y, 'ce').g.toArray());
  });
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  for (let step = 0; step < 3; step++) {
    engine.arena.scope(() => {
      const loss = mean(softmaxCrossEntropy(model.call(Tensor.from(engine, x, [n, 28, 28, 1])), y));
      model.zeroGrad();
      backward(loss);
      opt.step();
    });
  }
  const weights = model.parameters().map((p) => p.toArray());
  const all = new Float32Array(weights.reduce((s, w) => s + w.length, 0));
  let at = 0;
  for (const w of weights) {
    all.set(w, at);
    at += w.length;
  }
  out.trainingSteps = result(all);
  opt.dispose();
  model.dispose();
  return out;
}
