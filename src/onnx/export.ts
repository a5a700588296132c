// ONNX export of the paper's CNN (`multirobust export`): the graph PyTorch's exporter writes for
// it, so that onnxruntime and other ONNX runtimes run a model trained here.
//
//   input  'input'  float32 (N, 1, 28, 28) NCHW, N dynamic, values in [0, 1]
//   Conv 5×5 pads 2 (conv1) → Relu → MaxPool 2×2 stride 2 → Conv 5×5 pads 2 (conv2) → Relu →
//   MaxPool 2×2 stride 2 → Flatten (axis 1, NCHW order) → Gemm transB (fc1) → Relu → Gemm transB (fc2)
//   output 'logits' float32 (N, 10)
//
// The weights are the model's PyTorch state dict (src/nn/checkpoint.ts torchStateDict: OIHW
// filters, (out, in) dense weights, fc1's inputs in NCHW order), stored as raw little-endian
// float32 initializers. Opset 13, IR version 7. Protobuf messages: onnx-buf (ONNX's onnx.proto
// compiled for @bufbuild/protobuf).
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType, AttributeProtoSchema, GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema,
  TensorProto_DataType, TensorProtoSchema, TensorShapeProto_DimensionSchema, TensorShapeProtoSchema, TypeProto_TensorSchema, TypeProtoSchema,
  ValueInfoProtoSchema, type AttributeProto, type NodeProto, type ValueInfoProto,
} from 'onnx-buf';
import type { StTensor } from '../io/safetensors.ts';
import { VERSION } from '../version.ts';

export const EXPORT_OPSET = 13;
const IR_VERSION = 7n;

function ints(name: string, values: number[]): AttributeProto {
  return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: values.map(BigInt) });
}

function int(name: string, value: number): AttributeProto {
  return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(value) });
}

function node(opType: string, inputs: string[], output: string, attribute: AttributeProto[] = []): NodeProto {
  return create(NodeProtoSchema, { opType, input: inputs, output: [output], name: `${opType}_${output}`, attribute });
}

function floatInfo(name: string, dims: (number | string)[]): ValueInfoProto {
  const dim = dims.map((d) => create(TensorShapeProto_DimensionSchema, { value: typeof d === 'string' ? { case: 'dimParam', value: d } : { case: 'dimValue', value: BigInt(d) } }));
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: TensorProto_DataType.FLOAT, shape: create(TensorShapeProtoSchema, { dim }) }) } }),
  });
}

/** The names the paper's CNN's state dict must hold, with their ranks. */
const PARAMS: [string, number][] = [['conv1.weight', 4], ['conv1.bias', 1], ['conv2.weight', 4], ['conv2.bias', 1], ['fc1.weight', 2], ['fc1.bias', 1], ['fc2.weight', 2], ['fc2.bias', 1]];

/** The ONNX model (serialized ModelProto) of the paper's CNN with these PyTorch-layout weights. */
export function exportMnistCnn(state: Record<string, StTensor>, opts: { name?: string } = {}): Uint8Array {
  for (const [key, rank] of PARAMS) {
    const t = state[key];
    if (!t) throw new Error(`export: the state dict has no '${key}' (not the paper's CNN)`);
    if (t.shape.length !== rank) throw new Error(`export: '${key}' has shape [${t.shape}], expected rank ${rank}`);
  }
  const conv = (i: number, x: string) => [
    node('Conv', [x, `conv${i}.weight`, `conv${i}.bias`], `conv${i}`, [ints('kernel_shape', state[`conv${i}.weight`].shape.slice(2)), ints('pads', [2, 2, 2, 2]), ints('strides', [1, 1]), ints('dilations', [1, 1]), int('group', 1)]),
    node('Relu', [`conv${i}`], `relu${i}`),
    node('MaxPool', [`relu${i}`], `pool${i}`, [ints('kernel_shape', [2, 2]), ints('strides', [2, 2]), ints('pads', [0, 0, 0, 0])]),
  ];
  const nodes = [
    ...conv(1, 'input'), ...conv(2, 'pool1'),
    node('Flatten', ['pool2'], 'flat', [int('axis', 1)]),
    node('Gemm', ['flat', 'fc1.weight', 'fc1.bias'], 'fc1', [int('transB', 1)]),
    node('Relu', ['fc1'], 'relu3'),
    node('Gemm', ['relu3', 'fc2.weight', 'fc2.bias'], 'logits', [int('transB', 1)]),
  ];
  const initializer = PARAMS.map(([key]) => {
    const t = state[key];
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    const raw = new Uint8Array(data.length * 4);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
    return create(TensorProtoSchema, { name: key, dims: t.shape.map(BigInt), dataType: TensorProto_DataType.FLOAT, rawData: raw });
  });
  const classes = state['fc2.weight'].shape[0];
  const graph = create(GraphProtoSchema, {
    name: opts.name ?? 'mnist_cnn', node: nodes, initializer,
    input: [floatInfo('input', ['N', 1, 28, 28])], output: [floatInfo('logits', ['N', classes])],
  });
  const model = create(ModelProtoSchema, {
    irVersion: IR_VERSION, producerName: 'multirobust', producerVersion: VERSION, graph,
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(EXPORT_OPSET) })],
  });
  return toBinary(ModelProtoSchema, model);
}
