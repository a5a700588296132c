// ONNX export (src/onnx/export.ts, multirobust export): onnxruntime (onnxruntime-web's WASM build,
// run in Node) loads the exported paper's CNN and gives our engine's logits within 1e-5 relative
// (|a − b| ≤ 1e-5·max(1, |b|); different summation orders, e.g. Winograd, move a logit of ~17 by a
// few float32 ulps) and the same predictions, for random and trained weights, on a batch of 1 and
// of 64; the file's graph is what it claims; the CLI refuses bad input without writing.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from 'onnx-buf';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logitsAt } from '../../src/attacks/core.ts';
import { saveModel, torchStateDict } from '../../src/nn/checkpoint.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import type { Module } from '../../src/nn/module.ts';
import { exportMnistCnn } from '../../src/onnx/export.ts';
import { Tensor } from '../../src/tensor.ts';
import { loadMnist, type ImageDataset } from '../../src/train/data.ts';
import { trainStandard } from '../../src/train/standard.ts';
import { loadEngine, type Engine } from '../../src/wasm/load.ts';

const ROOT = join(import.meta.dirname, '../..');
let engine: Engine;
let test: ImageDataset;
let trained: Module;

beforeAll(async () => {
  ort.env.wasm.numThreads = 1;
  engine = await loadEngine({ threads: 2 });
  test = loadMnist('test');
  trained = trainStandard(engine, { epochs: 1, batch: 50, seed: 0, lr: 1e-3, limit: 1000, log: () => {} }, { train: loadMnist('train'), test }).model;
});

afterAll(async () => {
  await engine?.close();
});

async function compare(model: Module, n: number, offset = 0): Promise<{ maxRel: number; agree: number }> {
  const session = await ort.InferenceSession.create(exportMnistCnn(torchStateDict(model)));
  const x = test.images.slice(offset * 784, (offset + n) * 784);
  const theirs = (await session.run({ input: new ort.Tensor('float32', x, [n, 1, 28, 28]) })).logits.data as Float32Array;
  const ours = engine.arena.scope(() => logitsAt(model, Tensor.from(engine, x, [n, 28, 28, 1])));
  await session.release();
  let maxRel = 0, agree = 0;
  for (let i = 0; i < ours.length; i++) maxRel = Math.max(maxRel, Math.abs(ours[i] - theirs[i]) / Math.max(1, Math.abs(theirs[i])));
  const argmax = (z: ArrayLike<number>, r: number) => { let b = 0; for (let j = 1; j < 10; j++) if (z[r * 10 + j] > z[r * 10 + b]) b = j; return b; };
  for (let r = 0; r < n; r++) agree += +(argmax(ours, r) === argmax(theirs, r));
  return { maxRel, agree };
}

describe('ONNX export', () => {
  it('onnxruntime gives the engine\'s logits (trained weights, a batch of 64)', async () => {
    const { maxRel, agree } = await compare(trained, 64, 100);
    expect(maxRel).toBeLessThanOrEqual(1e-5);
    expect(agree).toBe(64);
  });

  it('and for random weights and a batch of 1 (the batch axis is dynamic)', async () => {
    const model = mnistCnn(engine, 9);
    const { maxRel, agree } = await compare(model, 1, 7);
    expect(maxRel).toBeLessThanOrEqual(1e-5);
    expect(agree).toBe(1);
    model.dispose();
  });

  it('writes the graph it describes: opset 13, input (N, 1, 28, 28), logits (N, 10), eight initializers', () => {
    const m = fromBinary(ModelProtoSchema, exportMnistCnn(torchStateDict(trained)));
    expect(m.opsetImport[0].version).toBe(13n);
    expect(m.graph!.node.map((n) => n.opType)).toEqual(['Conv', 'Relu', 'MaxPool', 'Conv', 'Relu', 'MaxPool', 'Flatten', 'Gemm', 'Relu', 'Gemm']);
    expect(m.graph!.initializer.map((t) => t.name)).toEqual(['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(m.graph!.input[0].name).toBe('input');
    expect(m.graph!.output[0].name).toBe('logits');
    expect(() => exportMnistCnn({})).toThrow(/no 'conv1.weight'/);
  });

  it('multirobust export writes the file; bad input is one line, exit 2, nothing written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'export-'));
    saveModel(join(dir, 'm.safetensors'), trained);
    const run = (args: string[]) => promisify(execFile)(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'export', ...args]).then((r) => r, (e) => e);
    const ok = await run(['--checkpoint', join(dir, 'm.safetensors'), '--out', join(dir, 'm.onnx')]);
    expect(ok.code ?? 0).toBe(0);
    expect(readFileSync(join(dir, 'm.onnx')).equals(Buffer.from(exportMnistCnn(torchStateDict(trained))))).toBe(true);
    writeFileSync(join(dir, 'bad.safetensors'), 'garbage');
    for (const [args, msg] of [[['--checkpoint', join(dir, 'bad.safetensors'), '--out', join(dir, 'bad.onnx')], /bad\.safetensors/], [['--checkpoint', join(dir, 'm.safetensors')], /--out FILE\.onnx is required/], [['--checkpoint', join(dir, 'none.safetensors'), '--out', join(dir, 'none.onnx')], /no such file/]] as [string[], RegExp][]) {
      const err = await run(args);
      expect(err.code, args.join(' ')).toBe(2);
      expect(err.stderr.trim().split('\n')).toEqual([expect.stringMatching(msg)]);
    }
    expect(existsSync(join(dir, 'bad.onnx'))).toBe(false);
    expect(existsSync(join(dir, 'none.onnx'))).toBe(false);
  });
});
