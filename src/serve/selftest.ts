// What runs identically in Node and in a browser, to compare them:
//   selfTest     the computations whose bits must agree (test/browser): the paper's CNN's forward
//                pass, the input gradient of its cross-entropy, and three Adam training steps, on the
//                first `n` MNIST test images with seeded weights; each result an FNV-1a hash of its
//                float32 bytes (plus its first values, for a readable failure)
//   benchEngine  images/s of the forward pass, the input gradient and one Adam training step of the
//                paper's CNN on a batch (bench/browser.bench.ts times it in both, same run)
// Runs on any engine; Threading: the engine's.
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

/** Median images/s of `reps` timed calls of fn on `batch` images, after one warm-up call. */
function rate(fn: () => void, batch: number, reps: number): number {
  fn();
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return batch / (times[reps >> 1] / 1000);
}

export interface EngineRates {
  forward: number;
  inputGradient: number;
  trainingStep: number;
}

export function benchEngine(engine: Engine, images: Float32Array, labels: Int32Array, reps = 7): EngineRates {
  const batch = labels.length;
  const model = mnistCnn(engine, 7);
  const opt = new Adam(model.parameters(), { lr: 1e-4 });
  const x = () => Tensor.from(engine, images, [batch, 28, 28, 1]);
  const forward = rate(() => engine.arena.scope(() => { model.call(x()).toArray(); }), batch, reps);
  for (const p of model.parameters()) p.requiresGrad = false;
  const inputGradient = rate(() => engine.arena.scope(() => { lossInputGrad(model, x(), labels, 'ce').g.toArray(); }), batch, reps);
  for (const p of model.parameters()) p.requiresGrad = true;
  const trainingStep = rate(() => engine.arena.scope(() => {
    const loss = mean(softmaxCrossEntropy(model.call(x()), labels));
    model.zeroGrad();
    backward(loss);
    opt.step();
  }), batch, reps);
  opt.dispose();
  model.dispose();
  return { forward, inputGradient, trainingStep };
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
