// ONNX import (src/onnx/import.ts): the project's own export round-trips to the same logits; small
// hand-built graphs covering every supported op (a normalisation prefix Sub/Div, Conv with
// BatchNormalization folded, explicit pads and stride 2, a residual Add, MaxPool, PyTorch's
// Shape/Gather/Unsqueeze/Concat → Reshape chain, Gemm with and without transB, MatMul + Add bias,
// Identity, Dropout, a trailing Softmax) give onnxruntime's logits within 1e-5 relative; input
// gradients by central differences; parameters train; bad files and unsupported ops are one clear
// error naming the node, the op and the attribute.
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType, AttributeProtoSchema, GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema,
  TensorProto_DataType, TensorProtoSchema, TensorShapeProto_DimensionSchema, TensorShapeProtoSchema, TypeProto_TensorSchema, TypeProtoSchema,
  ValueInfoProtoSchema, type AttributeProto,
} from 'onnx-buf';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logitsAt } from '../../src/attacks/core.ts';
import { lossInputGrad } from '../../src/attacks/losses.ts';
import { backward } from '../../src/autograd.ts';
import { Rng } from '../../src/nn/init.ts';
import { torchStateDict } from '../../src/nn/checkpoint.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import { Adam } from '../../src/nn/optim.ts';
import { exportMnistCnn } from '../../src/onnx/export.ts';
import { exportOnnxModel, importOnnx, OnnxImportError } from '../../src/onnx/import.ts';
import { mean, softmaxCrossEntropy } from '../../src/ops/index.ts';
import { Tensor } from '../../src/tensor.ts';
import { loadMnist, type ImageDataset } from '../../src/train/data.ts';
import { loadEngine, type Engine } from '../../src/wasm/load.ts';

let engine: Engine;
let test: ImageDataset;

beforeAll(async () => {
  ort.env.wasm.numThreads = 1;
  engine = await loadEngine({ threads: 2 });
  test = loadMnist('test');
});
afterAll(async () => {
  await engine?.close();
});

// ---- a tiny graph builder ----------------------------------------------------------------------
type Attr = number | number[] | string;
function attrOf(name: string, v: Attr): AttributeProto {
  if (typeof v === 'string') return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: v.map(BigInt) });
  return Number.isInteger(v) ? create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(v) }) : create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: v });
}
const floatAttr = (name: string, f: number) => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f });

class Graph {
  nodes: ReturnType<typeof create<typeof NodeProtoSchema>>[] = [];
  inits: ReturnType<typeof create<typeof TensorProtoSchema>>[] = [];
  private rng = new Rng(11);
  private k = 0;
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, extra: AttributeProto[] = []): string {
    const out = `v${this.k++}`;
    this.nodes.push(create(NodeProtoSchema, { opType: op, input: inputs, output: [out], name: `${op}${this.k}`, attribute: [...Object.entries(attrs).map(([n, v]) => attrOf(n, v)), ...extra] }));
    return out;
  }
  init(dims: number[], values?: number[], type: 'float' | 'int64' = 'float'): string {
    const name = `w${this.k++}`;
    const n = dims.reduce((a, b) => a * b, 1);
    const data = values ?? Array.from({ length: n }, () => this.rng.normal() * 0.3);
    this.inits.push(type === 'int64'
      ? create(TensorProtoSchema, { name, dims: dims.map(BigInt), dataType: TensorProto_DataType.INT64, int64Data: data.map(BigInt) })
      : create(TensorProtoSchema, { name, dims: dims.map(BigInt), dataType: TensorProto_DataType.FLOAT, floatData: data }));
    return name;
  }
  bytes(output: string, classes: number, opset = 13, batch: number | string = 'N'): Uint8Array {
    const info = (name: string, dims: (number | string)[]) => create(ValueInfoProtoSchema, {
      name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: TensorProto_DataType.FLOAT, shape: create(TensorShapeProtoSchema, { dim: dims.map((d) => create(TensorShapeProto_DimensionSchema, { value: typeof d === 'string' ? { case: 'dimParam', value: d } : { case: 'dimValue', value: BigInt(d) } })) }) }) } }),
    });
    const graph = create(GraphProtoSchema, { name: 'g', node: this.nodes, initializer: this.inits, input: [info('x', [batch, 1, 28, 28])], output: [info(output, [batch, classes])] });
    return toBinary(ModelProtoSchema, create(ModelProtoSchema, { irVersion: 7n, graph, opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(opset) })] }));
  }
}

/** A residual CNN with a normalisation prefix, a folded batch norm, both Reshape forms and a Softmax. */
function residualGraph(): { bytes: Uint8Array } {
  const g = new Graph();
  const norm = g.node('Div', [g.node('Sub', ['x', g.init([1], [0.1307])]), g.init([], [0.3081])]);
  const c1 = g.node('Conv', [norm, g.init([8, 1, 3, 3]), g.init([8])], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] });
  const bnInputs = [g.init([8], Array.from({ length: 8 }, (_, i) => 0.5 + 0.1 * i)), g.init([8]), g.init([8]), g.init([8], Array.from({ length: 8 }, (_, i) => 0.3 + 0.2 * i))];
  const bn = g.node('BatchNormalization', [c1, ...bnInputs], {}, [floatAttr('epsilon', 1e-3)]);
  const r1 = g.node('Relu', [bn]);
  const c2 = g.node('Conv', [r1, g.init([8, 8, 3, 3]), g.init([8])], { pads: [1, 1, 1, 1] });
  const res = g.node('Relu', [g.node('Add', [g.node('Relu', [c2]), r1])]);
  const p = g.node('MaxPool', [g.node('Identity', [res])], { kernel_shape: [2, 2], strides: [2, 2] });
  const c3 = g.node('Relu', [g.node('Conv', [p, g.init([4, 8, 3, 3]), g.init([4])], { strides: [2, 2], auto_pad: 'VALID' })]); // (4, 6, 6)
  const shape = g.node('Shape', [c3]);
  const batch = g.node('Unsqueeze', [g.node('Gather', [shape, g.init([], [0], 'int64')], { axis: 0 }), g.init([1], [0], 'int64')]);
  const flat = g.node('Reshape', [c3, g.node('Concat', [batch, g.init([1], [-1], 'int64')], { axis: 0 })]);
  const h = g.node('Relu', [g.node('Gemm', [g.node('Dropout', [flat]), g.init([16, 144]), g.init([16])], { transB: 1 })]);
  const h2 = g.node('Add', [g.node('MatMul', [h, g.init([16, 12])]), g.init([12])]);
  const logits = g.node('Gemm', [h2, g.init([12, 10]), g.init([10])], { transB: 0 }, [floatAttr('alpha', 0.5)]);
  return { bytes: g.bytes(g.node('Softmax', [logits], { axis: 1 }), 10) };
}

/** A pre-activation block: batch norm before the ReLU, LeakyReLU, average, 3×3 max and global average pooling. */
function poolingGraph(): { bytes: Uint8Array } {
  const g = new Graph();
  const c1 = g.node('Conv', ['x', g.init([6, 1, 3, 3]), g.init([6])], { pads: [1, 1, 1, 1] });
  const leaky = g.node('LeakyRelu', [c1], {}, [floatAttr('alpha', 0.1)]);
  const pooled = g.node('AveragePool', [g.node('AveragePool', [leaky], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] })], { kernel_shape: [2, 2], strides: [2, 2] }); // (6, 14, 14)
  const add = g.node('Add', [pooled, g.init([1, 6, 1, 1])]);
  const bn = g.node('BatchNormalization', [add, g.init([6], [1.2, 0.8, 1, 0.5, 2, 1.1]), g.init([6]), g.init([6]), g.init([6], [0.5, 1, 1.5, 2, 0.7, 0.9])], {}, [floatAttr('epsilon', 1e-5)]);
  const c2 = g.node('Conv', [g.node('Relu', [bn]), g.init([8, 6, 3, 3]), g.init([8])], { strides: [2, 2], pads: [1, 1, 1, 1] }); // (8, 7, 7)
  const pooled3 = g.node('MaxPool', [g.node('Relu', [c2])], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }); // (8, 7, 7)
  const gap = g.node('Flatten', [g.node('GlobalAveragePool', [pooled3])], { axis: 1 });
  return { bytes: g.bytes(g.node('Gemm', [gap, g.init([10, 8]), g.init([10])], { transB: 1 }), 10) };
}

async function ortLogits(bytes: Uint8Array, x: Float32Array, n: number, dropSoftmax = false): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [n, 1, 28, 28]) });
  await session.release();
  const y = out[session.outputNames[0]].data as Float32Array;
  if (!dropSoftmax) return y;
  // The reference has the Softmax: compare log-probabilities (log softmax of our logits) instead.
  return Float32Array.from(y, Math.log);
}

function logSoftmaxRows(z: Float32Array, k: number): Float32Array {
  const out = new Float32Array(z.length);
  for (let r = 0; r < z.length / k; r++) {
    const row = z.subarray(r * k, (r + 1) * k), m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    for (let j = 0; j < k; j++) out[r * k + j] = row[j] - lse;
  }
  return out;
}

const maxRel = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
};

describe('ONNX import', () => {
  it('the project\'s export imports back to the same logits', () => {
    const cnn = mnistCnn(engine, 3);
    const imported = importOnnx(engine, exportMnistCnn(torchStateDict(cnn)));
    const x = test.images.subarray(0, 32 * 784);
    const [a, b] = engine.arena.scope(() => [logitsAt(cnn, Tensor.from(engine, x, [32, 28, 28, 1])), logitsAt(imported, Tensor.from(engine, x, [32, 28, 28, 1]))]);
    expect(maxRel(b, a)).toBeLessThanOrEqual(1e-6);
    expect(imported.parameters().length).toBe(8);
    expect(imported.info).toMatchObject({ opset: 13, input: [1, 28, 28], classes: 10 });
    imported.dispose();
    cnn.dispose();
  });

  it('a residual CNN with every supported op gives onnxruntime\'s outputs', async () => {
    const { bytes } = residualGraph();
    const model = importOnnx(engine, bytes);
    expect(model.info.notes.join('; ')).toMatch(/folded into its Conv.*Softmax.*dropped/);
    const n = 16, x = test.images.slice(0, n * 784);
    const theirs = await ortLogits(bytes, x, n, true);
    const ours = logSoftmaxRows(engine.arena.scope(() => logitsAt(model, Tensor.from(engine, x, [n, 28, 28, 1]))), 10);
    expect(maxRel(ours, theirs)).toBeLessThanOrEqual(1e-5);
    model.dispose();
  });

  it('LeakyReLU, average and global average pooling and a batch norm before a ReLU give onnxruntime\'s logits', async () => {
    const { bytes } = poolingGraph();
    const model = importOnnx(engine, bytes);
    expect(model.info.notes.join('; ')).toMatch(/frozen per-channel affine map/);
    const n = 16, x = test.images.slice(200 * 784, (200 + n) * 784);
    const theirs = await ortLogits(bytes, x, n);
    const ours = engine.arena.scope(() => logitsAt(model, Tensor.from(engine, x, [n, 28, 28, 1])));
    expect(maxRel(ours, theirs)).toBeLessThanOrEqual(1e-5);
    model.dispose();
  });

  for (const [name, graph] of [['residual', residualGraph], ['pooling', poolingGraph]] as const) it(`input gradients through the imported ${name} graph match central differences`, () => {
    const model = importOnnx(engine, graph().bytes);
    for (const p of model.parameters()) p.requiresGrad = false;
    const x = Float64Array.from(test.images.subarray(784, 2 * 784));
    const y = Int32Array.of(test.labels[1]);
    const loss = (v: Float64Array) => engine.arena.scope(() => {
      const z = logitsAt(model, Tensor.from(engine, Float32Array.from(v), [1, 28, 28, 1]));
      const m = Math.max(...z);
      return m + Math.log(z.reduce((s, t) => s + Math.exp(t - m), 0)) - z[y[0]];
    });
    const g = engine.arena.scope(() => lossInputGrad(model, Tensor.from(engine, Float32Array.from(x), [1, 28, 28, 1]), y, 'ce').g.toArray());
    // The network is piecewise linear with ties (max pooling over ReLU zeros): where the forward and
    // the backward difference disagree, the pixel sits on a kink and no derivative exists to check;
    // everywhere else the gradient must match the central difference.
    const at = (i: number, d: number) => {
      const v = Float64Array.from(x);
      v[i] += d;
      return loss(v);
    };
    const h = 1e-3;
    let checked = 0;
    for (const i of [100, 210, 300, 405, 406, 500, 580, 650]) {
      const l0 = at(i, 0), fwd = (at(i, h) - l0) / h, bwd = (l0 - at(i, -h)) / h;
      if (Math.abs(fwd - bwd) > 1e-2 * Math.max(1, Math.abs(fwd))) continue;
      const central = (fwd + bwd) / 2;
      expect(Math.abs(g[i] - central), `pixel ${i}: ${g[i]} vs ${central}`).toBeLessThanOrEqual(1e-2 * Math.max(1, Math.abs(central)));
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(5);
    model.dispose();
  });

  it('its parameters train: a few Adam steps lower the loss', () => {
    const model = importOnnx(engine, residualGraph().bytes);
    const opt = new Adam(model.parameters(), { lr: 1e-2 });
    const x = test.images.subarray(0, 64 * 784), y = test.labels.subarray(0, 64);
    const losses: number[] = [];
    for (let s = 0; s < 8; s++) {
      engine.arena.scope(() => {
        const l = mean(softmaxCrossEntropy(model.call(Tensor.from(engine, x, [64, 28, 28, 1])), y));
        losses.push(l.item());
        model.zeroGrad();
        backward(l);
        opt.step();
      });
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]);
    opt.dispose();
    model.dispose();
  });

  it('fine-tuned weights write back into the file\'s own graph (folded batch norm, Gemm with alpha and without transB, MatMul): onnxruntime computes what the engine does', async () => {
    for (const graph of [residualGraph, poolingGraph]) {
      const { bytes } = graph();
      const model = importOnnx(engine, bytes);
      const opt = new Adam(model.parameters(), { lr: 2e-2 });
      const xs = test.images.subarray(0, 32 * 784), ys = test.labels.subarray(0, 32);
      for (let s = 0; s < 3; s++) {
        engine.arena.scope(() => {
          const l = mean(softmaxCrossEntropy(model.call(Tensor.from(engine, xs, [32, 28, 28, 1])), ys));
          model.zeroGrad();
          backward(l);
          opt.step();
        });
      }
      opt.dispose();
      const tuned = exportOnnxModel(model, bytes);
      const n = 8, x = test.images.slice(300 * 784, (300 + n) * 784);
      const softmax = graph === residualGraph;
      const ours = engine.arena.scope(() => logitsAt(model, Tensor.from(engine, x, [n, 28, 28, 1])));
      const theirs = await ortLogits(tuned, x, n, softmax);
      const before = await ortLogits(bytes, x, n, softmax);
      const mine = softmax ? logSoftmaxRows(ours, 10) : ours;
      expect(maxRel(mine, theirs)).toBeLessThanOrEqual(1e-5);
      expect(maxRel(before, theirs)).toBeGreaterThan(1e-3); // the weights did change
      // Imported again, the written file is the fine-tuned model.
      const again = importOnnx(engine, tuned);
      const z = engine.arena.scope(() => logitsAt(again, Tensor.from(engine, x, [n, 28, 28, 1])));
      expect(maxRel(z, ours)).toBeLessThanOrEqual(1e-5);
      again.dispose();
      model.dispose();
    }
  });

  it('a graph exported with its batch fixed at 1 (Reshape to (1, -1)) runs any batch, as onnxruntime does one image at a time', async () => {
    const g = new Graph();
    const conv = g.node('Relu', [g.node('Conv', ['x', g.init([3, 1, 5, 5]), g.init([3])], { pads: [2, 2, 2, 2] })]);
    const flat = g.node('Reshape', [g.node('MaxPool', [conv], { kernel_shape: [2, 2], strides: [2, 2] }), g.init([2], [1, -1], 'int64')]);
    const bytes = g.bytes(g.node('Gemm', [flat, g.init([10, 3 * 14 * 14]), g.init([10])], { transB: 1 }), 10, 13, 1);
    const model = importOnnx(engine, bytes);
    const n = 5, x = test.images.slice(0, n * 784);
    const ours = engine.arena.scope(() => logitsAt(model, Tensor.from(engine, x, [n, 28, 28, 1])));
    for (let i = 0; i < n; i++) expect(maxRel(ours.subarray(i * 10, i * 10 + 10), await ortLogits(bytes, x.slice(i * 784, (i + 1) * 784), 1))).toBeLessThanOrEqual(1e-5);
    model.dispose();
    const g2 = new Graph();
    const bad = g2.node('Reshape', ['x', g2.init([2], [1, -1], 'int64')]);
    expect(() => importOnnx(engine, g2.bytes(bad, 10))).toThrow(/target shape \[1,-1\]/);
  });

  it('bad files and unsupported ops or attributes are one clear error', () => {
    expect(() => importOnnx(engine, new TextEncoder().encode('not a model at all'))).toThrow(OnnxImportError);
    expect(() => importOnnx(engine, new Uint8Array(0))).toThrow(/no graph or an empty one/);
    const good = exportMnistCnn(torchStateDict(mnistCnn(engine, 1)));
    expect(() => importOnnx(engine, good.subarray(0, good.length >> 1))).toThrow(OnnxImportError);
    const cases: [(g: Graph) => string, RegExp][] = [
      [(g) => g.node('Sigmoid', ['x']), /node 'Sigmoid\d+' \(Sigmoid\): unsupported op/],
      [(g) => g.node('AveragePool', ['x'], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 0, 0, 0] }), /\(AveragePool\): pads \[1,0,0,0\]/],
      [(g) => g.node('AveragePool', ['x'], { kernel_shape: [2, 2], ceil_mode: 1 }), /\(AveragePool\): ceil_mode and auto_pad are not supported/],
      [(g) => g.node('LeakyRelu', ['x'], {}, [floatAttr('alpha', 1.5)]), /\(LeakyRelu\): attribute alpha = 1\.5/],
      [(g) => g.node('Conv', ['x', g.init([4, 1, 3, 3])], { group: 2 }), /\(Conv\): attribute group = 2/],
      [(g) => g.node('Conv', ['x', g.init([4, 1, 3, 3])], { dilations: [2, 2] }), /\(Conv\): attribute dilations = \[2,2\]/],
      [(g) => g.node('Conv', ['x', g.init([4, 1, 3, 3])], { pads: [1, 0, 1, 0] }), /\(Conv\): attribute pads = \[1,0,1,0\]/],
      [(g) => g.node('MaxPool', ['x'], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }), /\(MaxPool\): ceil_mode and auto_pad are not supported/],
      [(g) => g.node('BatchNormalization', ['x', g.init([2]), g.init([2]), g.init([2]), g.init([2], [1, 1])]), /\(BatchNormalization\): 2 scales for 1 channels/],
    ];
    for (const [build, msg] of cases) {
      const g = new Graph();
      const out = build(g);
      expect(() => importOnnx(engine, g.bytes(out, 10))).toThrow(msg);
    }
    const old = new Graph();
    expect(() => importOnnx(engine, old.bytes(old.node('Relu', ['x']), 10, 9))).toThrow(/opset 9 \(supported: 11–18\)/);
    const notLogits = new Graph();
    expect(() => importOnnx(engine, notLogits.bytes(notLogits.node('Relu', ['x']), 10))).toThrow(/must be logits \(N, classes\), got image/);
  });
});

describe('multirobust eval --model FILE.onnx', () => {
  it('gives the figures of the checkpoint it was exported from; bad files are one line, exit 2, nothing written', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { mkdtempSync, readFileSync, writeFileSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { saveModel } = await import('../../src/nn/checkpoint.ts');
    const dir = mkdtempSync(join(tmpdir(), 'onnx-cli-'));
    const cnn = mnistCnn(engine, 5);
    saveModel(join(dir, 'm.safetensors'), cnn);
    const bytes = exportMnistCnn(torchStateDict(cnn));
    writeFileSync(join(dir, 'm.onnx'), bytes);
    cnn.dispose();
    const bin = join(import.meta.dirname, '../../dist/cli/bin.js');
    const run = (args: string[]) => promisify(execFile)(process.execPath, [bin, ...args]).then((r) => ({ code: 0, ...r }), (e) => e);
    const common = ['--attacks', 'linf:0.3:steps=3,l2:2:steps=3', '--n', '20', '--quiet', '--threads', '1'];
    expect((await run(['eval', '--model', join(dir, 'm.onnx'), ...common, '--out', join(dir, 'a.json')])).code).toBe(0);
    expect((await run(['eval', '--checkpoint', join(dir, 'm.safetensors'), ...common, '--out', join(dir, 'b.json')])).code).toBe(0);
    const a = JSON.parse(readFileSync(join(dir, 'a.json'), 'utf8')), b = JSON.parse(readFileSync(join(dir, 'b.json'), 'utf8'));
    expect(a.per_example).toEqual(b.per_example);
    expect(a.checkpoint).toBe(join(dir, 'm.onnx'));
    const narrow = mnistCnn(engine, 5, { c1: 4, c2: 8, hidden: 16 });
    saveModel(join(dir, 'narrow.safetensors'), narrow);
    narrow.dispose();
    writeFileSync(join(dir, 'cut.onnx'), bytes.subarray(0, 5000));
    writeFileSync(join(dir, 'junk.onnx'), 'junk');
    const g = new Graph();
    writeFileSync(join(dir, 'sigmoid.onnx'), g.bytes(g.node('Sigmoid', ['x']), 10));
    for (const [args, msg] of [
      [['--model', join(dir, 'cut.onnx')], /cut\.onnx: not an ONNX model/],
      [['--model', join(dir, 'junk.onnx')], /junk\.onnx: not an ONNX model/],
      [['--model', join(dir, 'sigmoid.onnx')], /\(Sigmoid\): unsupported op/],
      [['--model', join(dir, 'none.onnx')], /none\.onnx: no such file/],
      [['--model', join(dir, 'm.onnx'), '--checkpoint', join(dir, 'narrow.safetensors')], /narrow\.safetensors: .*shape/],
    ] as [string[], RegExp][]) {
      const out = join(dir, 'bad.json');
      const err = await run(['eval', ...args, ...common, '--out', out]);
      expect(err.code, args.join(' ')).toBe(2);
      expect(err.stderr.trim().split('\n'), args.join(' ')).toEqual([expect.stringMatching(msg)]);
      expect(existsSync(out)).toBe(false);
    }
  });
});

describe('multirobust train --model FILE.onnx (fine-tuning)', () => {
  it('trains the imported graph, resumable state and all; eval --model FILE.onnx --checkpoint loads the result', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'onnx-train-'));
    const cnn = mnistCnn(engine, 6, { c1: 4, c2: 8, hidden: 16 });
    writeFileSync(join(dir, 'narrow.onnx'), exportMnistCnn(torchStateDict(cnn)));
    cnn.dispose();
    const bin = join(import.meta.dirname, '../../dist/cli/bin.js');
    const run = (args: string[]) => promisify(execFile)(process.execPath, [bin, ...args], { maxBuffer: 1 << 24 }).then((r) => ({ code: 0, ...r }), (e) => e);
    const out = join(dir, 'run');
    const r = await run(['train', '--model', join(dir, 'narrow.onnx'), '--strategy', 'single', '--attacks', 'linf:0.1:steps=2', '--epochs', '1', '--train-n', '200', '--batch', '50', '--val-n', '50',
      '--test-suite', 'none', '--test-attacks', 'linf:0.1:steps=2', '--test-n', '30', '--curve-n', '0', '--checkpoint-every', '2', '--out', out, '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    const ev = await run(['eval', '--model', join(dir, 'narrow.onnx'), '--checkpoint', join(out, 'last.safetensors'), '--attacks', 'linf:0.1:steps=2', '--n', '30', '--steps', '2', '--out', join(dir, 'e.json'), '--quiet', '--threads', '1']);
    expect(ev.code, ev.stderr).toBe(0);
    // The fine-tuned weights, not the file's: the same clean predictions as the run's own report.
    expect(JSON.parse(readFileSync(join(dir, 'e.json'), 'utf8')).per_example.clean).toEqual(report.per_example.clean);
    // Written back into the file's graph, the fine-tuned model evaluates the same without --checkpoint.
    const ex = await run(['export', '--model', join(dir, 'narrow.onnx'), '--checkpoint', join(out, 'last.safetensors'), '--out', join(dir, 'tuned.onnx')]);
    expect(ex.code, ex.stderr).toBe(0);
    const ev2 = await run(['eval', '--model', join(dir, 'tuned.onnx'), '--attacks', 'linf:0.1:steps=2', '--n', '30', '--steps', '2', '--out', join(dir, 'e2.json'), '--quiet', '--threads', '1']);
    expect(ev2.code, ev2.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'e2.json'), 'utf8')).per_example).toEqual(JSON.parse(readFileSync(join(dir, 'e.json'), 'utf8')).per_example);
    const again = await run(['train', '--resume', out, '--threads', '1']);
    expect(again.code, again.stderr).toBe(0);
  }, 180_000);
});
