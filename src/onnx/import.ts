// ONNX import: a small image classifier from an .onnx file becomes a Module on the engine's ops,
// so that every attack (input gradients through the autodiff) and training run on it.
//
// Layout: ONNX is NCHW; the engine is NHWC. The graph's input (N, C, H, W) is fed as the engine's
// (N, H, W, C) images; Conv filters OIHW become HWIO at import; a Flatten/Reshape of an image-shaped
// value yields features in (H, W, C) order, so the Gemm/MatMul that reads them has its weight rows
// permuted from ONNX's (C, H, W) order (the same rule as the PyTorch checkpoints, src/nn/checkpoint.ts).
//
// Supported (opsets 11–18, this first version): Conv (2-D, group 1, dilation 1, equal strides,
// symmetric equal pads or auto_pad SAME_UPPER/VALID), BatchNormalization (folded into the Conv that
// alone feeds it; elsewhere a frozen per-channel affine map), Relu, LeakyRelu, MaxPool (any window,
// strides, symmetric pads; floor mode), AveragePool (any window and strides, symmetric pads, count_include_pad), GlobalAveragePool, Flatten (axis 1), Reshape to (N, features)
// (also through PyTorch's Shape → Gather → Unsqueeze → Concat chain), Gemm and MatMul with constant
// weights, Add (a constant bias, a scalar, or two values of one shape: residual connections), Sub,
// Mul and Div by a scalar constant (input normalisation), Identity, Dropout, Constant; a trailing
// Softmax is dropped (attacks need logits) with a notice. Anything else: an OnnxImportError naming
// the node, its op and the attribute. An unfolded batch norm runs as a 1×1 convolution (or a dense
// layer) with a diagonal weight.
//
// Parameters (conv and dense weights and biases) are the module's, named after their initializers;
// they take gradients like any layer's. Threading: the engine's ops'.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProto_DataType, TensorProtoSchema, type AttributeProto, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from 'onnx-buf';
import { conv2dGeometry } from '../kernels/conv2d.ts';
import { convPerm, densePerm, identity, permuted, type ParamMapping } from '../nn/checkpoint.ts';
import { Module } from '../nn/module.ts';
import { add, addScalar, avgPool2d, biasAdd, conv2d, dense, globalAvgPool, leakyRelu, maxPool, maxPool2d, relu, reshape, scale } from '../ops/index.ts';
import { avgPoolShape } from '../kernels/avgpool.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';
import { VERSION } from '../version.ts';

export class OnnxImportError extends Error {}

/** A constant: its values (float64) and dims. */
interface Const {
  kind: 'const';
  data: Float64Array;
  dims: number[];
}
/** An image-shaped runtime value: NHWC in the engine, (C, H, W) in the graph. */
interface Image {
  kind: 'image';
  c: number;
  h: number;
  w: number;
}
/** A (N, features) runtime value; `from` = (C, H, W) when it is a flattened image (features in HWC order). */
interface Flat {
  kind: 'flat';
  features: number;
  from: [number, number, number] | null;
}
/** A shape being computed by PyTorch's Shape/Gather/Unsqueeze/Concat chain: 'N' is the batch. */
interface ShapeVal {
  kind: 'shape';
  dims: (number | 'N')[];
}
type Value = Const | Image | Flat | ShapeVal;
type Runtime = Image | Flat;

type Step = (env: Map<string, Tensor>) => void;
/** Writes parameters' current values (by name, in ONNX layout) into a copy of the graph. */
type Writer = (graph: GraphProto, value: (name: string) => Float32Array) => void;

/** Sets a float tensor of the graph: an initializer (added when missing) or a Constant node's value. */
function setTensor(graph: GraphProto, name: string, data: Float32Array, dims: number[]): void {
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  const tensor = create(TensorProtoSchema, { name, dims: dims.map(BigInt), dataType: TensorProto_DataType.FLOAT, rawData: raw });
  const at = graph.initializer.findIndex((t) => t.name === name);
  if (at >= 0) {
    graph.initializer[at] = tensor;
    return;
  }
  const constant = graph.node.find((n) => n.opType === 'Constant' && n.output[0] === name);
  const attr = constant?.attribute.find((a) => a.name === 'value');
  if (attr) attr.t = tensor;
  else graph.initializer.push(tensor);
}

const MIN_OPSET = 11, MAX_OPSET = 18;

function fail(node: NodeProto, msg: string): never {
  throw new OnnxImportError(`node '${node.name || node.output[0]}' (${node.opType}): ${msg}`);
}

function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}
const attrInts = (node: NodeProto, name: string, dflt: number[]): number[] => {
  const a = attr(node, name);
  return a ? a.ints.map(Number) : dflt;
};
const attrInt = (node: NodeProto, name: string, dflt: number): number => {
  const a = attr(node, name);
  return a ? Number(a.i) : dflt;
};
const attrFloat = (node: NodeProto, name: string, dflt: number): number => attr(node, name)?.f ?? dflt;
const attrString = (node: NodeProto, name: string, dflt: string): string => {
  const a = attr(node, name);
  return a ? new TextDecoder().decode(a.s) : dflt;
};

/** The values of a TensorProto (float, double, int32, int64; raw or typed fields). */
export function tensorValues(t: TensorProto, what: string): Const {
  const dims = t.dims.map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  if (t.dataLocation === 1) throw new OnnxImportError(`${what}: tensor '${t.name}' keeps its data in an external file (not supported: save the model with its weights inside)`);
  let data: Float64Array;
  const raw = t.rawData;
  const dv = raw.length ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  const need = (bytes: number) => {
    if (dv && raw.length !== n * bytes) throw new OnnxImportError(`${what}: tensor '${t.name}' has ${raw.length} bytes of data, its dims [${dims}] need ${n * bytes}`);
  };
  switch (t.dataType) {
    case TensorProto_DataType.FLOAT:
      need(4);
      data = dv ? Float64Array.from({ length: n }, (_, i) => dv.getFloat32(i * 4, true)) : Float64Array.from(t.floatData);
      break;
    case TensorProto_DataType.DOUBLE:
      need(8);
      data = dv ? Float64Array.from({ length: n }, (_, i) => dv.getFloat64(i * 8, true)) : Float64Array.from(t.doubleData);
      break;
    case TensorProto_DataType.INT64:
      need(8);
      data = dv ? Float64Array.from({ length: n }, (_, i) => Number(dv.getBigInt64(i * 8, true))) : Float64Array.from(t.int64Data, Number);
      break;
    case TensorProto_DataType.INT32:
      need(4);
      data = dv ? Float64Array.from({ length: n }, (_, i) => dv.getInt32(i * 4, true)) : Float64Array.from(t.int32Data);
      break;
    default:
      throw new OnnxImportError(`${what}: tensor '${t.name}' has data type ${TensorProto_DataType[t.dataType] ?? t.dataType} (float, double, int32 and int64 are supported)`);
  }
  if (data.length !== n) throw new OnnxImportError(`${what}: tensor '${t.name}' holds ${data.length} values, its dims [${dims}] need ${n}`);
  for (let i = 0; i < n; i++) if (!Number.isFinite(data[i])) throw new OnnxImportError(`${what}: tensor '${t.name}' holds ${data[i]} at index ${i}: weights must be finite`);
  return { kind: 'const', data, dims };
}

export interface OnnxInfo {
  opset: number;
  producer: string;
  /** The graph's input (C, H, W) and number of classes. */
  input: [number, number, number];
  classes: number;
  /** Notices (a dropped Softmax, folded batch norms). */
  notes: string[];
}

/** The imported model: Module.call(x) takes NHWC images (B, H, W, C) and returns logits (B, classes). */
export class OnnxModel extends Module {
  constructor(private readonly steps: Step[], private readonly inputName: string, private readonly outputName: string, private readonly mapping: ParamMapping[], private readonly constants: Tensor[], readonly writers: Writer[], readonly info: OnnxInfo) {
    super();
    for (const m of mapping) this.addParam(m.name, m.tensor);
  }

  /** Checkpoint names and layouts: the initializers' names, OIHW filters, (out, in) dense weights in ONNX's feature order. */
  paramMapping(): ParamMapping[] {
    return this.mapping;
  }

  override dispose(): void {
    super.dispose();
    for (const t of this.constants) t.dispose();
  }

  call(x: Tensor): Tensor {
    const [c, h, w] = this.info.input;
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) throw new RangeError(`ONNX model: input must be (B, ${h}, ${w}, ${c}) NHWC, got [${x.shape}]`);
    const env = new Map<string, Tensor>([[this.inputName, x]]);
    for (const step of this.steps) step(env);
    return env.get(this.outputName)!;
  }
}

/** Parses and checks an .onnx file's bytes (a clear OnnxImportError for anything else). */
export function parseOnnx(bytes: Uint8Array, what = 'ONNX model'): ModelProto {
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes);
  } catch (err) {
    throw new OnnxImportError(`${what}: not an ONNX model (${(err as Error).message.split('\n')[0]})`);
  }
  if (!model.graph || model.graph.node.length === 0) throw new OnnxImportError(`${what}: not an ONNX model (no graph or an empty one)`);
  return model;
}

/** Builds the engine model of an ONNX file's bytes. */
export function importOnnx(engine: Engine, bytes: Uint8Array, what = 'ONNX model'): OnnxModel {
  const model = parseOnnx(bytes, what);
  const opset = Number(model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0n);
  if (opset < MIN_OPSET || opset > MAX_OPSET) throw new OnnxImportError(`${what}: opset ${opset} (supported: ${MIN_OPSET}–${MAX_OPSET})`);
  return buildGraph(engine, model.graph!, { opset, producer: `${model.producerName} ${model.producerVersion}`.trim(), what });
}

function buildGraph(engine: Engine, g: GraphProto, meta: { opset: number; producer: string; what: string }): OnnxModel {
  const values = new Map<string, Value>();
  for (const t of g.initializer) values.set(t.name, tensorValues(t, meta.what));
  const inputs = g.input.filter((i) => !values.has(i.name));
  if (inputs.length !== 1) throw new OnnxImportError(`${meta.what}: expected one image input, found ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`);
  const tt = inputs[0].type?.value.case === 'tensorType' ? inputs[0].type.value.value : null;
  const dims = tt?.shape?.dim.map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : 'N')) ?? [];
  if (dims.length !== 4 || dims.slice(1).some((d) => typeof d !== 'number')) throw new OnnxImportError(`${meta.what}: input '${inputs[0].name}' must be (N, C, H, W) with fixed C, H, W, got [${dims}]`);
  const [, C, H, W] = dims as number[];
  /** The graph was exported for a batch of exactly 1; the model runs any batch. */
  const fixedBatch1 = dims[0] === 1;
  values.set(inputs[0].name, { kind: 'image', c: C, h: H, w: W });

  // Uses of each value, to fold a BatchNormalization into the Conv that alone feeds it.
  const uses = new Map<string, number>();
  for (const n of g.node) for (const i of n.input) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
  const outputs = new Set(g.output.map((o) => o.name));

  const steps: Step[] = [];
  const params: ParamMapping[] = [];
  /** How each parameter's current values go back into the graph (exportOnnxModel). */
  const writers: Writer[] = [];
  /** Constant tensors the steps read (per-channel biases of Add/Sub): no gradient, freed with the model. */
  const constants: Tensor[] = [];
  const notes: string[] = [];
  /** A parameter from its values in ONNX layout (torchShape) and the layout conversion to the engine's. */
  const param = (name: string, onnx: Float32Array, torchShape: number[], shape: number[], layout: Pick<ParamMapping, 'toTorch' | 'fromTorch'> = { toTorch: identity, fromTorch: identity }) => {
    if (params.some((p) => p.name === name)) throw new OnnxImportError(`${meta.what}: initializer '${name}' is used by two layers (shared weights are not supported)`);
    const t = Tensor.from(engine, layout.fromTorch(onnx), shape, { persistent: true });
    params.push({ name, tensor: t, torchShape, ...layout });
    return t;
  };
  /** A constant tensor the steps read (no gradient), freed with the model. */
  const frozen = (data: Float32Array, shape: number[]) => {
    const t = Tensor.from(engine, data, shape, { persistent: true });
    constants.push(t);
    return t;
  };
  const runtime = (node: NodeProto, name: string): Runtime => {
    const v = values.get(name);
    if (!v) fail(node, `input '${name}' is not produced by any earlier node`);
    if (v.kind !== 'image' && v.kind !== 'flat') fail(node, `input '${name}' must be a computed tensor, got a ${v.kind}`);
    return v;
  };
  const constant = (node: NodeProto, name: string): Const | null => {
    const v = values.get(name);
    return v?.kind === 'const' ? v : null;
  };
  const alias = (from: string, to: string) => steps.push((env) => void env.set(to, env.get(from)!));
  let outputName = g.output[0]?.name ?? '';
  const pendingConv = new Map<string, { node: NodeProto; w: Float64Array; b: Float64Array; o: number; i: number; kh: number; kw: number; stride: number; padding: 'same' | 'valid' | number; x: string }>();

  const emitConv = (out: string, c: NonNullable<ReturnType<typeof pendingConv.get>>, scaleBy: Float64Array | null, shift: Float64Array | null) => {
    const { o, i, kh, kw } = c;
    const w = new Float32Array(o * i * kh * kw), b = new Float32Array(o);
    for (let oc = 0; oc < o; oc++) {
      const s = scaleBy ? scaleBy[oc] : 1;
      for (let k = 0; k < i * kh * kw; k++) w[oc * i * kh * kw + k] = c.w[oc * i * kh * kw + k] * s;
      b[oc] = c.b[oc] * s + (shift ? shift[oc] : 0);
    }
    const wName = c.node.input[1], bName = c.node.input[2] || `${wName}.bias`;
    const wt = param(wName, w, [o, i, kh, kw], [kh, kw, i, o], permuted(convPerm(kh, kw, i, o)));
    const bt = param(bName, b, [o], [o]);
    const convNode = c.node;
    writers.push((graph, value) => {
      setTensor(graph, wName, value(wName), [o, i, kh, kw]);
      // A conv without a bias input gets one (a folded batch norm's shift lives there).
      if (!convNode.input[2]) {
        const node = graph.node.find((n) => n.output[0] === convNode.output[0])!;
        node.input[2] = bName;
      }
      setTensor(graph, bName, value(bName), [o]);
      // A folded batch norm becomes the identity: scale 1, shift 0, mean 0, variance 1 − ε.
      if (scaleBy) {
        const bn = graph.node.find((n) => n.opType === 'BatchNormalization' && n.input[0] === convNode.output[0])!;
        const eps = bn.attribute.find((a) => a.name === 'epsilon')?.f ?? 1e-5;
        const [sc, sh, mu, v] = bn.input.slice(1, 5);
        setTensor(graph, sc, new Float32Array(o).fill(1), [o]);
        setTensor(graph, sh, new Float32Array(o), [o]);
        setTensor(graph, mu, new Float32Array(o), [o]);
        setTensor(graph, v, new Float32Array(o).fill(1 - eps), [o]);
      }
    });
    const { stride, padding, x } = c;
    steps.push((env) => void env.set(out, conv2d(env.get(x)!, wt, bt, { stride, padding })));
  };

  for (const node of g.node) {
    try {
      addNode(node);
    } catch (err) {
      // A shape the engine refuses (a kernel larger than its input, …) is still this node's problem.
      if (err instanceof OnnxImportError) throw err;
      fail(node, (err as Error).message.split('\n')[0]);
    }
  }
  function addNode(node: NodeProto): void {
    const out = node.output[0];
    const op = node.opType;
    if (!out) fail(node, 'the node has no output');
    if (node.domain && node.domain !== 'ai.onnx') fail(node, `custom domain '${node.domain}' is not supported`);
    switch (op) {
      case 'Constant': {
        const t = attr(node, 'value')?.t;
        if (!t) fail(node, "only the 'value' attribute (a tensor) is supported");
        values.set(out, tensorValues(t, meta.what));
        break;
      }
      case 'Identity':
      case 'Dropout': {
        const v = values.get(node.input[0]);
        if (!v) fail(node, `input '${node.input[0]}' is unknown`);
        values.set(out, v);
        if (v.kind === 'image' || v.kind === 'flat') alias(node.input[0], out);
        break;
      }
      case 'Conv': {
        const x = runtime(node, node.input[0]);
        if (x.kind !== 'image') fail(node, 'input must be an image (N, C, H, W)');
        const wc = constant(node, node.input[1]);
        if (!wc || wc.dims.length !== 4) fail(node, 'the filter must be a constant (O, I, kH, kW) initializer');
        const [o, i, kh, kw] = wc.dims;
        if (attrInt(node, 'group', 1) !== 1) fail(node, `attribute group = ${attrInt(node, 'group', 1)} (only 1 is supported)`);
        if (attrInts(node, 'dilations', [1, 1]).some((d) => d !== 1)) fail(node, `attribute dilations = [${attrInts(node, 'dilations', [1, 1])}] (only 1 is supported)`);
        if (i !== x.c) fail(node, `the filter expects ${i} input channels, the input has ${x.c}`);
        const strides = attrInts(node, 'strides', [1, 1]);
        if (strides[0] !== strides[1]) fail(node, `attribute strides = [${strides}] (equal strides only)`);
        const autoPad = attrString(node, 'auto_pad', 'NOTSET');
        let padding: 'same' | 'valid' | number;
        if (autoPad === 'SAME_UPPER') padding = 'same';
        else if (autoPad === 'VALID') padding = 'valid';
        else if (autoPad === 'NOTSET') {
          const pads = attrInts(node, 'pads', [0, 0, 0, 0]);
          if (pads.some((p) => p !== pads[0])) fail(node, `attribute pads = [${pads}] (equal pads on every side only)`);
          padding = pads[0];
        } else fail(node, `attribute auto_pad = ${autoPad} (NOTSET, SAME_UPPER and VALID are supported)`);
        const bc = node.input[2] ? constant(node, node.input[2]) : null;
        if (node.input[2] && !bc) fail(node, 'the bias must be a constant initializer');
        const geom = conv2dGeometry({ batch: 1, h: x.h, w: x.w, cin: i, cout: o, kh, kw, stride: strides[0], padding });
        values.set(out, { kind: 'image', c: o, h: geom.oh, w: geom.ow });
        const pending = { node, w: wc.data, b: bc ? bc.data : new Float64Array(o), o, i, kh, kw, stride: strides[0], padding, x: node.input[0] };
        // A Conv whose only use is a BatchNormalization waits for it (folded); otherwise it runs now.
        const next = g.node.find((n) => n.input[0] === out);
        if (uses.get(out) === 1 && next?.opType === 'BatchNormalization' && !outputs.has(out)) pendingConv.set(out, pending);
        else emitConv(out, pending, null, null);
        break;
      }
      case 'BatchNormalization': {
        const [scaleC, biasC, meanC, varC] = node.input.slice(1, 5).map((n) => constant(node, n));
        if (!scaleC || !biasC || !meanC || !varC) fail(node, 'scale, bias, mean and variance must be constants (inference mode)');
        if (node.output.length > 1 && node.output.slice(1).some(Boolean)) fail(node, 'training-mode outputs (running mean/var) are not supported');
        const eps = attrFloat(node, 'epsilon', 1e-5);
        const s = Float64Array.from(scaleC.data, (g0, k) => g0 / Math.sqrt(varC.data[k] + eps));
        const shift = Float64Array.from(biasC.data, (b0, k) => b0 - meanC.data[k] * s[k]);
        const conv = pendingConv.get(node.input[0]);
        if (conv) {
          emitConv(out, conv, s, shift);
          pendingConv.delete(node.input[0]);
          values.set(out, values.get(node.input[0])!);
          notes.push(`BatchNormalization '${node.name || out}' folded into its Conv`);
          break;
        }
        // Elsewhere (before a ReLU, after an Add): a frozen per-channel affine map, run as a 1×1
        // convolution (images) or a dense layer (features) with a diagonal weight and the shift as bias.
        const x = runtime(node, node.input[0]);
        const n = x.kind === 'image' ? x.c : x.features;
        if (s.length !== n) fail(node, `${s.length} scales for ${n} channels`);
        const diag = new Float32Array(n * n);
        for (let k = 0; k < n; k++) diag[k * n + k] = s[k];
        const wt = frozen(diag, x.kind === 'image' ? [1, 1, n, n] : [n, n]), bt = frozen(Float32Array.from(shift), [n]);
        values.set(out, x);
        const input = node.input[0];
        steps.push(x.kind === 'image' ? (env) => void env.set(out, conv2d(env.get(input)!, wt, bt)) : (env) => void env.set(out, dense(env.get(input)!, wt, bt)));
        notes.push(`BatchNormalization '${node.name || out}' runs as a frozen per-channel affine map`);
        break;
      }
      case 'Relu': {
        const x = runtime(node, node.input[0]);
        values.set(out, x);
        steps.push((env) => void env.set(out, relu(env.get(node.input[0])!)));
        break;
      }
      case 'MaxPool': {
        const x = runtime(node, node.input[0]);
        if (x.kind !== 'image') fail(node, 'input must be an image');
        const k = attrInts(node, 'kernel_shape', []), st = attrInts(node, 'strides', [1, 1]), pads = attrInts(node, 'pads', [0, 0, 0, 0]);
        if (k.length !== 2) fail(node, `kernel_shape [${k}] (2-D windows only)`);
        if (attrInt(node, 'ceil_mode', 0) !== 0 || attrString(node, 'auto_pad', 'NOTSET') !== 'NOTSET') fail(node, 'ceil_mode and auto_pad are not supported');
        if (attrInts(node, 'dilations', [1, 1]).some((d) => d !== 1)) fail(node, `attribute dilations = [${attrInts(node, 'dilations', [1, 1])}] (only 1 is supported)`);
        if (pads[0] !== pads[2] || pads[1] !== pads[3]) fail(node, `pads [${pads}] (the same padding before and after each axis only)`);
        if (node.output.length > 1 && node.output[1]) fail(node, 'the Indices output is not supported');
        const input = node.input[0];
        if (k.join() === '2,2' && st.join() === '2,2' && pads.every((p) => p === 0)) {
          values.set(out, { kind: 'image', c: x.c, h: x.h >> 1, w: x.w >> 1 });
          steps.push((env) => void env.set(out, maxPool2d(env.get(input)!)));
          break;
        }
        const attrs = { kh: k[0], kw: k[1], sh: st[0], sw: st[1], ph: pads[0], pw: pads[1] };
        const s = avgPoolShape('MaxPool', { batch: 1, h: x.h, w: x.w, c: x.c, includePad: false, ...attrs });
        values.set(out, { kind: 'image', c: x.c, h: s.oh, w: s.ow });
        steps.push((env) => void env.set(out, maxPool(env.get(input)!, attrs)));
        break;
      }
      case 'Flatten': {
        const x = runtime(node, node.input[0]);
        if (attrInt(node, 'axis', 1) !== 1) fail(node, `attribute axis = ${attrInt(node, 'axis', 1)} (only 1 is supported)`);
        flattenTo(out, node.input[0], x);
        break;
      }
      case 'Shape': {
        const x = runtime(node, node.input[0]);
        values.set(out, { kind: 'shape', dims: x.kind === 'image' ? ['N', x.c, x.h, x.w] : ['N', x.features] });
        break;
      }
      case 'Gather': {
        const s = values.get(node.input[0]), idx = constant(node, node.input[1]);
        if (s?.kind !== 'shape' || !idx || idx.data.length !== 1) fail(node, 'only Gather of one index from a Shape is supported');
        const k = idx.data[0] < 0 ? s.dims.length + idx.data[0] : idx.data[0];
        values.set(out, { kind: 'shape', dims: [s.dims[k]] });
        break;
      }
      case 'Unsqueeze':
      case 'Squeeze': {
        const s = values.get(node.input[0]);
        if (s?.kind === 'shape') values.set(out, s);
        else if (s?.kind === 'const') values.set(out, { ...s, dims: [s.data.length] });
        else fail(node, 'only on shape values (the Reshape plumbing) is supported');
        break;
      }
      case 'Concat': {
        const parts = node.input.map((n) => values.get(n));
        if (!parts.every((p) => p?.kind === 'shape' || p?.kind === 'const')) fail(node, 'only shape plumbing (Shape/Gather/Unsqueeze pieces and constants) is supported');
        values.set(out, { kind: 'shape', dims: parts.flatMap((p) => (p!.kind === 'shape' ? p!.dims : Array.from((p as Const).data))) });
        break;
      }
      case 'Reshape': {
        const x = runtime(node, node.input[0]);
        const s = values.get(node.input[1]);
        const target = s?.kind === 'shape' ? s.dims : s?.kind === 'const' ? Array.from(s.data) : null;
        if (!target) fail(node, 'the target shape must be a constant or computed from Shape');
        const features = x.kind === 'image' ? x.c * x.h * x.w : x.features;
        // A graph exported with its batch fixed at 1 reshapes to (1, features): that 1 is the batch.
        const batchDim = target[0] === 'N' || target[0] === -1 || target[0] === 0 || (target[0] === 1 && fixedBatch1);
        const ok = target.length === 2 && batchDim && (target[1] === -1 || target[1] === features);
        if (!ok) fail(node, `target shape [${target}] (only (N, features) is supported)`);
        flattenTo(out, node.input[0], x);
        break;
      }
      case 'Gemm':
      case 'MatMul': {
        const x = runtime(node, node.input[0]);
        if (x.kind !== 'flat') fail(node, 'input must be (N, features): flatten the image first');
        const bc = constant(node, node.input[1]);
        if (!bc || bc.dims.length !== 2) fail(node, 'the weight must be a constant 2-D initializer');
        if (op === 'Gemm' && attrInt(node, 'transA', 0) !== 0) fail(node, 'attribute transA = 1 is not supported');
        const transB = op === 'Gemm' && attrInt(node, 'transB', 0) === 1;
        const alpha = op === 'Gemm' ? attrFloat(node, 'alpha', 1) : 1, beta = op === 'Gemm' ? attrFloat(node, 'beta', 1) : 1;
        const [inF, outF] = transB ? [bc.dims[1], bc.dims[0]] : bc.dims;
        if (inF !== x.features) fail(node, `the weight takes ${inF} features, the input has ${x.features}`);
        // To (out, in) in the graph's feature order, then to the engine's (in, out) in HWC order.
        const torch = new Float32Array(inF * outF);
        for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) torch[o * inF + i] = alpha * (transB ? bc.data[o * inF + i] : bc.data[i * outF + o]);
        const from = x.from ? ([x.from[1], x.from[2], x.from[0]] as [number, number, number]) : null;
        const wt = param(node.input[1], torch, [outF, inF], [inF, outF], permuted(densePerm(inF, outF, from)));
        const wName = node.input[1], dims = bc.dims;
        writers.push((graph, value) => {
          // Back to the file's form: (out, in) with transB, (in, out) without, alpha divided out.
          const t = value(wName), back = new Float32Array(inF * outF);
          for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) back[transB ? o * inF + i : i * outF + o] = t[o * inF + i] / alpha;
          setTensor(graph, wName, back, dims);
        });
        let bt: Tensor | null = null;
        if (op === 'Gemm' && node.input[2]) {
          const cc = constant(node, node.input[2]);
          if (!cc || (cc.data.length !== outF && cc.data.length !== 1)) fail(node, `the bias must be a constant of ${outF} values (or one)`);
          bt = param(node.input[2], Float32Array.from({ length: outF }, (_, k) => beta * cc.data[cc.data.length === 1 ? 0 : k]), [outF], [outF]);
          const bName = node.input[2];
          writers.push((graph, value) => setTensor(graph, bName, Float32Array.from(value(bName), (v) => v / beta), [outF]));
        }
        values.set(out, { kind: 'flat', features: outF, from: null });
        steps.push((env) => void env.set(out, dense(env.get(node.input[0])!, wt, bt)));
        break;
      }
      case 'Add':
      case 'Sub': {
        const [a, b] = node.input;
        const ca = constant(node, a), cb = constant(node, b);
        if (ca && cb) fail(node, 'both inputs are constants (fold them before export)');
        if (!ca && !cb) {
          if (op === 'Sub') fail(node, 'subtracting two computed tensors is not supported');
          const xa = runtime(node, a), xb = runtime(node, b);
          if (JSON.stringify(xa) !== JSON.stringify(xb)) fail(node, 'the two inputs have different shapes (broadcasting between computed tensors is not supported)');
          values.set(out, xa);
          steps.push((env) => void env.set(out, add(env.get(a)!, env.get(b)!)));
          break;
        }
        if (ca && op === 'Sub') fail(node, 'constant − tensor is not supported');
        const [xName, c] = ca ? [b, ca] : [a, cb!];
        const x = runtime(node, xName);
        const sign = op === 'Sub' ? -1 : 1;
        values.set(out, x);
        if (c.data.length === 1) {
          const v = sign * c.data[0];
          steps.push((env) => void env.set(out, addScalar(env.get(xName)!, v)));
        } else {
          // A per-feature (flat) or per-channel (image: (C, 1, 1) or (1, C, 1, 1)) bias: the engine's last axis.
          const n = x.kind === 'flat' ? x.features : x.c;
          const trailing = c.dims.slice(c.dims.findIndex((d) => d !== 1));
          const perChannel = x.kind === 'image' ? c.data.length === n && trailing.slice(1).every((d) => d === 1) : c.data.length === n;
          if (!perChannel) fail(node, `constant of dims [${c.dims}] (a scalar, or one value per ${x.kind === 'flat' ? 'feature' : 'channel'}, is supported)`);
          const bias = frozen(Float32Array.from(c.data, (v) => sign * v), [n]);
          steps.push((env) => void env.set(out, biasAdd(env.get(xName)!, bias)));
        }
        break;
      }
      case 'Mul':
      case 'Div': {
        const [a, b] = node.input;
        const ca = constant(node, a), cb = constant(node, b);
        if ((ca && cb) || (!ca && !cb)) fail(node, 'only a tensor times (or divided by) a scalar constant is supported');
        if (ca && op === 'Div') fail(node, 'constant ÷ tensor is not supported');
        const [xName, c] = ca ? [b, ca] : [a, cb!];
        if (c.data.length !== 1) fail(node, `constant of dims [${c.dims}] (only a scalar is supported)`);
        if (op === 'Div' && c.data[0] === 0) fail(node, 'division by zero');
        const k = op === 'Mul' ? c.data[0] : 1 / c.data[0];
        values.set(out, runtime(node, xName));
        steps.push((env) => void env.set(out, scale(env.get(xName)!, k)));
        break;
      }
      case 'LeakyRelu': {
        const x = runtime(node, node.input[0]);
        const alpha = attrFloat(node, 'alpha', 0.01);
        if (!(alpha >= 0 && alpha < 1)) fail(node, `attribute alpha = ${alpha} (0 ≤ α < 1 is supported)`);
        values.set(out, x);
        const input = node.input[0];
        steps.push((env) => void env.set(out, leakyRelu(env.get(input)!, alpha)));
        break;
      }
      case 'GlobalAveragePool': {
        const x = runtime(node, node.input[0]);
        if (x.kind !== 'image') fail(node, 'input must be an image');
        values.set(out, { kind: 'image', c: x.c, h: 1, w: 1 });
        const input = node.input[0];
        steps.push((env) => void env.set(out, globalAvgPool(env.get(input)!)));
        break;
      }
      case 'AveragePool': {
        const x = runtime(node, node.input[0]);
        if (x.kind !== 'image') fail(node, 'input must be an image');
        const k = attrInts(node, 'kernel_shape', []), st = attrInts(node, 'strides', [1, 1]), pads = attrInts(node, 'pads', [0, 0, 0, 0]);
        if (k.length !== 2) fail(node, `kernel_shape [${k}] (2-D windows only)`);
        if (attrInt(node, 'ceil_mode', 0) !== 0 || attrString(node, 'auto_pad', 'NOTSET') !== 'NOTSET') fail(node, 'ceil_mode and auto_pad are not supported');
        if (pads[0] !== pads[2] || pads[1] !== pads[3]) fail(node, `pads [${pads}] (the same padding before and after each axis only)`);
        const attrs = { kh: k[0], kw: k[1], sh: st[0], sw: st[1], ph: pads[0], pw: pads[1], includePad: attrInt(node, 'count_include_pad', 0) === 1 };
        const s = avgPoolShape('AveragePool', { batch: 1, h: x.h, w: x.w, c: x.c, ...attrs });
        values.set(out, { kind: 'image', c: x.c, h: s.oh, w: s.ow });
        const input = node.input[0];
        steps.push((env) => void env.set(out, avgPool2d(env.get(input)!, attrs)));
        break;
      }
      case 'Softmax': {
        if (!outputs.has(out)) fail(node, 'a Softmax inside the graph is not supported (only a trailing one, which is dropped)');
        values.set(out, runtime(node, node.input[0]));
        outputName = node.input[0];
        notes.push(`the trailing Softmax '${node.name || out}' is dropped: attacks need logits`);
        break;
      }
      default:
        fail(node, `unsupported op (supported: ${SUPPORTED_OPS.join(', ')})`);
    }
  }
  if (pendingConv.size) throw new OnnxImportError(`${meta.what}: internal: Conv ${[...pendingConv.keys()].join(', ')} waited for a BatchNormalization that never came`);
  const outVal = values.get(outputName);
  if (outVal?.kind !== 'flat') throw new OnnxImportError(`${meta.what}: the output '${outputName}' must be logits (N, classes), got ${outVal ? outVal.kind : 'nothing'}`);
  return new OnnxModel(steps, inputs[0].name, outputName, params, constants, writers, { opset: meta.opset, producer: meta.producer, input: [C, H, W], classes: outVal.features, notes });

  function flattenTo(out: string, from: string, x: Runtime): void {
    if (x.kind === 'flat') {
      values.set(out, x);
      alias(from, out);
      return;
    }
    values.set(out, { kind: 'flat', features: x.c * x.h * x.w, from: [x.c, x.h, x.w] });
    steps.push((env) => {
      const t = env.get(from)!;
      env.set(out, reshape(t, [t.shape[0], -1]));
    });
  }
}

export const SUPPORTED_OPS = ['Conv', 'BatchNormalization', 'Relu', 'LeakyRelu', 'GlobalAveragePool', 'AveragePool', 'MaxPool', 'Flatten', 'Reshape', 'Shape', 'Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Gemm', 'MatMul', 'Add', 'Sub', 'Mul', 'Div', 'Identity', 'Dropout', 'Constant', 'Softmax (trailing)'];

/**
 * The ONNX file `original` (the bytes the model was imported from) with the model's current
 * weights: after fine-tuning (train --model FILE.onnx) the same graph, new initializers. A batch
 * norm folded into its conv at import is written folded (the conv's new weights and bias, the batch
 * norm set to the identity), so the file computes what the engine does.
 */
export function exportOnnxModel(model: OnnxModel, original: Uint8Array, what = 'ONNX model'): Uint8Array {
  const proto = parseOnnx(original, what);
  const byName = new Map(model.paramMapping().map((m) => [m.name, m]));
  const value = (name: string) => {
    const m = byName.get(name);
    if (!m) throw new OnnxImportError(`${what}: no parameter '${name}' in the model (not the file it was imported from?)`);
    return m.toTorch(m.tensor.toArray());
  };
  for (const write of model.writers) write(proto.graph!, value);
  proto.producerName = 'multirobust';
  proto.producerVersion = VERSION;
  return toBinary(ModelProtoSchema, proto);
}
