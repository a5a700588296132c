// Peer: onnxruntime-web 1.31 (its WASM execution provider, SIMD, `threads` threads) running the
// paper's CNN exported by the project (src/onnx/export.ts). Forward only: an inference runtime has
// no gradients, so inputGrad and trainStep throw and the bench times the forward pass alone.
// NHWC and NCHW are the same memory for one channel, so the images go in as they are.
import * as ort from 'onnxruntime-web';
import { exportMnistCnn } from '../../src/onnx/export.ts';
import type { Peer, Weights } from './model.ts';

export async function createOrtPeer(W: Weights, opts: { threads: number }): Promise<Peer> {
  ort.env.wasm.numThreads = opts.threads;
  const state = Object.fromEntries(Object.entries(W).map(([k, p]) => [k, { shape: p.shape, data: p.data }]));
  const session = await ort.InferenceSession.create(exportMnistCnn(state), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  return {
    name: `onnxruntime-web ${ort.env.versions.web} (wasm EP)`,
    threads: opts.threads,
    optimizer: '—',
    async forward(x) {
      const n = x.length / 784;
      const out = await session.run({ input: new ort.Tensor('float32', x, [n, 1, 28, 28]) });
      return out.logits.data as Float32Array;
    },
    async inputGrad() {
      throw new Error('unsupported: onnxruntime-web runs inference only (no gradients)');
    },
    async trainStep() {
      throw new Error('unsupported: onnxruntime-web runs inference only');
    },
    dispose() {
      void session.release();
    },
  };
}
