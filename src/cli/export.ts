// `multirobust export`: a checkpoint of the paper's CNN as an ONNX model (src/onnx/export.ts), or an
// imported ONNX model with fine-tuned weights written back into its own graph (src/onnx/import.ts).
//
//   multirobust export --checkpoint runs/start/last.safetensors --out model.onnx
//   multirobust export --model base.onnx --checkpoint runs/tuned/last.safetensors --out tuned.onnx
//
// The checkpoint is loaded into the model first (so a foreign or damaged file is refused with the
// loader's message), then written atomically. Bad input: one line on stderr, exit 2, nothing written.
import { writeFileAtomic } from '../io/atomic.ts';
import { torchStateDict } from '../nn/checkpoint.ts';
import { readFileSync } from 'node:fs';
import { exportMnistCnn } from '../onnx/export.ts';
import { exportOnnxModel, OnnxModel } from '../onnx/import.ts';
import { loadEngine } from '../wasm/load.ts';
import { loadCheckpoint } from './inputs.ts';
import { UsageError } from './flags.ts';

type Values = Record<string, string | boolean | undefined>;

export const exportCommand = {
  summary: 'write the paper\'s CNN (a checkpoint) as an ONNX model for onnxruntime and other runtimes, or an imported ONNX model with its fine-tuned weights',
  usage: 'multirobust export --checkpoint FILE --out model.onnx | --model BASE.onnx [--checkpoint FILE] --out tuned.onnx',
  options: {
    checkpoint: { type: 'string' },
    model: { type: 'string', default: 'mnist-cnn' },
    out: { type: 'string' },
  },
  descriptions: {
    checkpoint: 'model weights (safetensors): the paper\'s CNN in PyTorch names and layouts, or with --model BASE.onnx weights saved by train --model BASE.onnx',
    model: 'mnist-cnn (the paper\'s CNN, default), or an ONNX file whose graph is written with the --checkpoint weights (fine-tuned) or its own',
    out: 'the .onnx file to write; required',
  },
  async run(values: Values) {
    const out = values.out as string | undefined;
    if (!out) throw new UsageError('--out FILE.onnx is required');
    const engine = await loadEngine({ threads: 1 });
    try {
      const modelName = values.model as string;
      const model = loadCheckpoint(engine, modelName, values.checkpoint as string | undefined);
      const bytes = model instanceof OnnxModel ? exportOnnxModel(model, readFileSync(modelName), modelName) : exportMnistCnn(torchStateDict(model));
      try {
        writeFileAtomic(out, bytes);
      } catch (err) {
        throw new UsageError(`--out ${out}: cannot write there (${(err as Error).message.split('\n')[0]})`);
      }
      const what = model instanceof OnnxModel ? `${modelName}'s graph with ${values.checkpoint ?? 'its own'} weights` : `${values.checkpoint}, ONNX opset 13, input 'input' (N, 1, 28, 28), output 'logits' (N, 10)`;
      console.log(`multirobust export: → ${out} (${(bytes.length / 2 ** 20).toFixed(1)} MiB; ${what})`);
    } finally {
      await engine.close();
    }
  },
};
