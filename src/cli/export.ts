// `multirobust export`: a checkpoint of the paper's CNN as an ONNX model (src/onnx/export.ts).
//
//   multirobust export --checkpoint runs/start/last.safetensors --out model.onnx
//
// The checkpoint is loaded into the model first (so a foreign or damaged file is refused with the
// loader's message), then written atomically. Bad input: one line on stderr, exit 2, nothing written.
import { writeFileAtomic } from '../io/atomic.ts';
import { torchStateDict } from '../nn/checkpoint.ts';
import { exportMnistCnn } from '../onnx/export.ts';
import { loadEngine } from '../wasm/load.ts';
import { loadCheckpoint } from './eval.ts';
import { UsageError } from './flags.ts';

type Values = Record<string, string | boolean | undefined>;

export const exportCommand = {
  summary: 'write a checkpoint of the paper\'s CNN as an ONNX model (opset 13, input (N, 1, 28, 28), output logits) for onnxruntime and other runtimes',
  usage: 'multirobust export --checkpoint FILE --out model.onnx',
  options: {
    checkpoint: { type: 'string' },
    model: { type: 'string', default: 'mnist-cnn' },
    out: { type: 'string' },
  },
  descriptions: {
    checkpoint: 'model weights (safetensors, PyTorch names and layouts); required',
    model: 'architecture of the checkpoint (mnist-cnn: the paper\'s CNN) (default mnist-cnn)',
    out: 'the .onnx file to write; required',
  },
  async run(values: Values) {
    const out = values.out as string | undefined;
    if (!out) throw new UsageError('--out FILE.onnx is required');
    const engine = await loadEngine({ threads: 1 });
    try {
      const model = loadCheckpoint(engine, values.model as string, values.checkpoint as string | undefined);
      const bytes = exportMnistCnn(torchStateDict(model));
      try {
        writeFileAtomic(out, bytes);
      } catch (err) {
        throw new UsageError(`--out ${out}: cannot write there (${(err as Error).message.split('\n')[0]})`);
      }
      console.log(`multirobust export: ${values.checkpoint} → ${out} (${(bytes.length / 2 ** 20).toFixed(1)} MiB, ONNX opset 13, input 'input' (N, 1, 28, 28), output 'logits' (N, 10))`);
    } finally {
      await engine.close();
    }
  },
};
