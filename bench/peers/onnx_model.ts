// `npm run bench -- --model FILE.onnx`: an imported ONNX model (src/onnx/import.ts) on the engine —
// forward, input gradient (one PGD step's cost) and an Adam training step — beside onnxruntime-web's
// forward on the same file (WASM execution provider, same threads), in the same process: tinybench
// rounds taking every task in turn, each task's figure the median call of its fastest round. The
// outputs are compared first (max relative difference of the logits), so nothing wrong is timed.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';
import { Bench } from 'tinybench';
import { lossInputGrad } from '../../src/attacks/losses.ts';
import { logitsAt } from '../../src/attacks/core.ts';
import { backward } from '../../src/autograd.ts';
import { Adam } from '../../src/nn/optim.ts';
import { importOnnx } from '../../src/onnx/import.ts';
import { mean, softmaxCrossEntropy } from '../../src/ops/index.ts';
import { Tensor } from '../../src/tensor.ts';
import type { Engine } from '../../src/wasm/engine.ts';
import { fmt, markdownTable, medianMs } from '../_util.ts';

export async function benchOnnxModel(engine: Engine, file: string, opts: { batch: number; rounds: number; timeMs: number; log: (s: string) => void }): Promise<string> {
  const bytes = new Uint8Array(readFileSync(file));
  const model = importOnnx(engine, bytes, file);
  const [c, h, w] = model.info.input, D = c * h * w, B = opts.batch;
  const x = Float32Array.from({ length: B * D }, (_, i) => ((i * 2654435761) % 1000) / 1000);
  const y = Int32Array.from({ length: B }, (_, i) => i % model.info.classes);
  ort.env.wasm.numThreads = engine.threads;
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const ortForward = async () => (await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [B, c, h, w]) }))[session.outputNames[0]].data as Float32Array;
  // Validation: the same logits (NCHW and NHWC coincide only for one channel: transpose otherwise).
  const nhwc = c === 1 ? x : Float32Array.from({ length: B * D }, (_, i) => {
    const ch = i % c, p = Math.floor(i / c) % (h * w), b = Math.floor(i / D);
    return x[b * D + ch * h * w + p];
  });
  const ours = engine.arena.scope(() => logitsAt(model, Tensor.from(engine, nhwc, [B, h, w, c])));
  const theirs = await ortForward();
  let maxRel = 0;
  for (let i = 0; i < ours.length; i++) maxRel = Math.max(maxRel, Math.abs(ours[i] - theirs[i]) / Math.max(1, Math.abs(theirs[i])));
  opts.log(`${file}: ${model.info.producer || 'ONNX'} opset ${model.info.opset}, input (${c}, ${h}, ${w}), ${model.info.classes} classes; logits vs onnxruntime-web: max relative difference ${maxRel.toExponential(1)}`);
  if (!(maxRel <= 1e-4)) throw new Error(`bench --model: our logits differ from onnxruntime-web's by ${maxRel} (relative): not timing a wrong result`);
  const frozen = () => { for (const p of model.parameters()) p.requiresGrad = false; };
  const opt = new Adam(model.parameters(), { lr: 1e-5 });
  const tasks: [string, () => unknown][] = [
    ['ours forward', () => engine.arena.scope(() => void logitsAt(model, Tensor.from(engine, nhwc, [B, h, w, c])))],
    ['ours input gradient', () => { frozen(); engine.arena.scope(() => void lossInputGrad(model, Tensor.from(engine, nhwc, [B, h, w, c]), y, 'ce').g.toArray()); }],
    ['ours training step', () => {
      for (const p of model.parameters()) p.requiresGrad = true;
      engine.arena.scope(() => {
        const l = mean(softmaxCrossEntropy(model.call(Tensor.from(engine, nhwc, [B, h, w, c])), y));
        model.zeroGrad();
        backward(l);
        opt.step();
      });
    }],
    ['onnxruntime-web forward', ortForward],
  ];
  const best = new Map<string, number>();
  for (let r = 0; r < opts.rounds; r++) {
    const bench = new Bench({ time: opts.timeMs / opts.rounds, iterations: 2, warmupIterations: 1 });
    for (const [name, fn] of tasks) bench.add(name, fn as () => Promise<void>);
    await bench.run();
    for (const t of bench.tasks) {
      const ms = medianMs(t);
      best.set(t.name, Math.min(best.get(t.name) ?? Infinity, ms));
    }
  }
  opt.dispose();
  model.dispose();
  await session.release();
  const rate = (name: string) => (B * 1000) / best.get(name)!;
  const ortRate = rate('onnxruntime-web forward');
  return markdownTable(['task', 'images/s', '× onnxruntime-web forward'], tasks.map(([name]) => [name, fmt(rate(name)), name.includes('forward') ? `${fmt(rate(name) / ortRate, 2)}×` : '—']));
}
