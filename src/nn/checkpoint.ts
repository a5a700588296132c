// Checkpoints in PyTorch names and layouts (paper.md §B), as safetensors:
//   Conv2d weight: ours HWIO (KH, KW, Cin, Cout) ↔ torch OIHW (Cout, Cin, KH, KW)
//   Dense weight:  ours (in, out)                ↔ torch (out, in); after a Flatten of an NHWC
//                  activation, torch's input index is (c, h, w) and ours (h, w, c), so rows permute.
//   biases: same in both.
// A module with its own paramMapping() (an imported ONNX graph: its initializers' names, ONNX's
// OIHW filters and (out, in) dense weights) is saved and loaded through that instead.
// A model file holds exactly the state_dict (load_state_dict(strict=True) accepts it). A training
// state file adds the optimizer slots as `optim.<slot>.<name>` (same layouts) and metadata
// (step, epoch, RNG state) so training resumes bit-identically.
import { readSafetensors, toFloat32, writeSafetensors, type StEntry, type StTensor } from '../io/safetensors.ts';
import type { Tensor } from '../tensor.ts';
import { Conv2d, Dense } from './layers.ts';
import type { Module } from './module.ts';
import type { Optimizer } from './optim.ts';

export interface ParamMapping {
  name: string;
  tensor: Tensor;
  torchShape: number[];
  toTorch(ours: Float32Array): Float32Array;
  fromTorch(theirs: Float32Array): Float32Array;
}

export const identity = (a: Float32Array) => a.slice();

/** A module that knows its own checkpoint names and layouts (an imported ONNX graph). */
export interface MappedModule extends Module {
  paramMapping(): ParamMapping[];
}

const hasMapping = (m: Module): m is MappedModule => typeof (m as unknown as { paramMapping?: unknown }).paramMapping === 'function';

/** Index maps between our layout and torch's: ours[i] = torch[perm[i]]. */
export function permuted(perm: Int32Array): Pick<ParamMapping, 'toTorch' | 'fromTorch'> {
  return {
    toTorch(ours) {
      const out = new Float32Array(ours.length);
      for (let i = 0; i < perm.length; i++) out[perm[i]] = ours[i];
      return out;
    },
    fromTorch(theirs) {
      const out = new Float32Array(theirs.length);
      for (let i = 0; i < perm.length; i++) out[i] = theirs[perm[i]];
      return out;
    },
  };
}

export function convPerm(kh: number, kw: number, ci: number, co: number): Int32Array {
  const perm = new Int32Array(kh * kw * ci * co);
  for (let h = 0; h < kh; h++) for (let w = 0; w < kw; w++) for (let c = 0; c < ci; c++) for (let o = 0; o < co; o++) {
    perm[((h * kw + w) * ci + c) * co + o] = ((o * ci + c) * kh + h) * kw + w;
  }
  return perm;
}

export function densePerm(inF: number, outF: number, hwc: [number, number, number] | null): Int32Array {
  const perm = new Int32Array(inF * outF);
  for (let i = 0; i < inF; i++) {
    let j = i;
    if (hwc) {
      const [H, W, C] = hwc;
      const c = i % C, w = Math.floor(i / C) % W, h = Math.floor(i / (C * W));
      j = (c * H + h) * W + w;
    }
    for (let o = 0; o < outF; o++) perm[i * outF + o] = o * inF + j;
  }
  return perm;
}

/** The model's parameters with their PyTorch names, shapes and layout conversions. */
export function torchMapping(model: Module): ParamMapping[] {
  if (hasMapping(model)) return model.paramMapping();
  const out: ParamMapping[] = [];
  const covered = new Set<Tensor>();
  for (const [prefix, m] of model.namedModules()) {
    if (m instanceof Conv2d) {
      const [kh, kw, ci, co] = m.weight.shape;
      out.push({ name: `${prefix}.weight`, tensor: m.weight, torchShape: [co, ci, kh, kw], ...permuted(convPerm(kh, kw, ci, co)) });
      out.push({ name: `${prefix}.bias`, tensor: m.bias, torchShape: [co], toTorch: identity, fromTorch: identity });
    } else if (m instanceof Dense) {
      out.push({ name: `${prefix}.weight`, tensor: m.weight, torchShape: [m.outFeatures, m.inFeatures], ...permuted(densePerm(m.inFeatures, m.outFeatures, m.flattenedFrom)) });
      out.push({ name: `${prefix}.bias`, tensor: m.bias, torchShape: [m.outFeatures], toTorch: identity, fromTorch: identity });
    } else continue;
    covered.add(m.weight).add(m.bias);
  }
  for (const [name, t] of model.namedParameters()) {
    if (!covered.has(t)) throw new Error(`checkpoint: parameter '${name}' belongs to a layer with no PyTorch mapping`);
  }
  return out;
}

/** The model as a PyTorch state_dict (names → tensors in torch layout). */
export function torchStateDict(model: Module): Record<string, StTensor> {
  const dict: Record<string, StTensor> = {};
  for (const p of torchMapping(model)) dict[p.name] = { dtype: 'F32', shape: p.torchShape, data: p.toTorch(p.tensor.toArray()) };
  return dict;
}

/** A validated tensor waiting to be copied: loads check every entry first, then copy them all. */
interface PendingCopy {
  target: Tensor;
  data: Float32Array;
}

function checkEntry(p: ParamMapping, target: Tensor, e: StEntry | undefined, key: string, what: string): PendingCopy {
  if (!e) throw new Error(`${what}: missing tensor '${key}'`);
  if (e.shape.length !== p.torchShape.length || e.shape.some((d, i) => d !== p.torchShape[i])) {
    throw new Error(`${what}: tensor '${key}' has shape [${e.shape}], the model expects [${p.torchShape}]`);
  }
  const data = toFloat32(e, key);
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${what}: tensor '${key}' holds ${data[bad]} at index ${bad}: weights must be finite`);
  return { target, data: p.fromTorch(data) };
}

function copyAll(pending: PendingCopy[]): void {
  for (const { target, data } of pending) target.view().set(data);
}

function checkStateDict(mapping: ParamMapping[], tensors: Map<string, StEntry>, what: string, allowExtra: (key: string) => boolean): PendingCopy[] {
  const names = new Set(mapping.map((p) => p.name));
  for (const key of tensors.keys()) if (!names.has(key) && !allowExtra(key)) throw new Error(`${what}: unexpected tensor '${key}' (the model has ${[...names].join(', ')})`);
  return mapping.map((p) => checkEntry(p, p.tensor, tensors.get(p.name), p.name, what));
}

/** Loads a PyTorch-layout state_dict into the model; unknown or missing keys are errors. A failed load changes nothing. */
export function loadTorchStateDict(model: Module, tensors: Map<string, StEntry>, what = 'checkpoint', allowExtra: (key: string) => boolean = () => false): void {
  copyAll(checkStateDict(torchMapping(model), tensors, what, allowExtra));
}

/** Saves the model as a PyTorch-compatible safetensors file (atomic). */
export function saveModel(path: string, model: Module, metadata: Record<string, string> = {}): void {
  writeSafetensors(path, torchStateDict(model), { format: 'pt', ...metadata });
}

/** Loads a PyTorch-layout safetensors file into the model; returns its metadata. */
export function loadModel(path: string, model: Module): Record<string, string> {
  const file = readSafetensors(path);
  loadTorchStateDict(model, file.tensors, path);
  return file.metadata;
}

export interface TrainingState {
  step: number;
  epoch: number;
  rng: string;
  [key: string]: string | number;
}

/** Saves model + optimizer state + training counters, atomically. */
export function saveTrainingState(path: string, model: Module, opt: Optimizer, state: TrainingState): void {
  const mapping = torchMapping(model);
  const dict = torchStateDict(model);
  for (const slot of opt.stateSlots()) {
    mapping.forEach((p) => {
      const i = opt.params.indexOf(p.tensor);
      if (i < 0) return;
      dict[`optim.${slot}.${p.name}`] = { dtype: 'F32', shape: p.torchShape, data: p.toTorch(opt.slot(slot, i).toArray()) };
    });
  }
  const meta: Record<string, string> = { format: 'multirobust-training-state', optimizer: opt.constructor.name, optimizerSteps: String(opt.stepCount) };
  for (const [k, v] of Object.entries(state)) meta[k] = String(v);
  writeSafetensors(path, dict, meta);
}

/** A metadata field that must hold a non-negative integer. */
function metaInt(meta: Record<string, string>, key: string, path: string): number {
  const v = meta[key];
  const n = Number(v);
  if (v === undefined || v.trim() === '' || !Number.isSafeInteger(n) || n < 0) {
    throw new Error(`${path}: training state metadata '${key}' must be a non-negative integer, got ${v === undefined ? 'nothing' : `'${v}'`}`);
  }
  return n;
}

/** Restores model, optimizer state and counters saved by saveTrainingState. A failed load changes nothing. */
export function loadTrainingState(path: string, model: Module, opt: Optimizer): TrainingState & Record<string, string | number> {
  const file = readSafetensors(path);
  const meta = file.metadata;
  if (meta.format !== 'multirobust-training-state') throw new Error(`${path}: not a training state file (metadata format = ${meta.format})`);
  if (meta.optimizer !== opt.constructor.name) throw new Error(`${path}: saved with optimizer ${meta.optimizer}, resuming with ${opt.constructor.name}`);
  const optimizerSteps = metaInt(meta, 'optimizerSteps', path);
  const step = metaInt(meta, 'step', path);
  const epoch = metaInt(meta, 'epoch', path);
  if (meta.rng === undefined) throw new Error(`${path}: training state metadata 'rng' is missing`);
  const mapping = torchMapping(model);
  // The optimizer tensors this optimizer has: any other optim.* key is an error, as in a model file.
  const slotKeys = new Set<string>();
  for (const slot of opt.stateSlots()) for (const p of mapping) if (opt.params.includes(p.tensor)) slotKeys.add(`optim.${slot}.${p.name}`);
  const pending = checkStateDict(mapping, file.tensors, path, (k) => slotKeys.has(k));
  for (const slot of opt.stateSlots()) {
    for (const p of mapping) {
      const i = opt.params.indexOf(p.tensor);
      const key = `optim.${slot}.${p.name}`;
      if (i >= 0) pending.push(checkEntry(p, opt.slot(slot, i), file.tensors.get(key), key, path));
    }
  }
  copyAll(pending);
  opt.stepCount = optimizerSteps;
  const out: Record<string, string | number> = { ...meta };
  out.step = step;
  out.epoch = epoch;
  return out as TrainingState;
}
