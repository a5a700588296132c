// Checkpoints in PyTorch names and layouts (paper.md §B), as safetensors:
//   Conv2d weight: ours HWIO (KH, KW, Cin, Cout) ↔ torch OIHW (Cout, Cin, KH, KW)
//   Dense weight:  ours (in, out)                ↔ torch (out, in); after a Flatten of an NHWC
//                  activation, torch's input index is (c, h, w) and ours (h, w, c), so rows permute.
//   biases: same in both.
// A model file holds exactly the state_dict (load_state_dict(strict=True) accepts it). A training
// state file adds the optimizer slots as `optim.<slot>.<name>` (same layouts) and metadata
// (step, epoch, RNG state) so training resumes bit-identically.
import { readSafetensors, toFloat32, writeSafetensors, type StEntry, type StTensor } from '../io/safetensors.ts';
import type { Tensor } from '../tensor.ts';
import { Conv2d, Dense } from './layers.ts';
import type { Module } from './module.ts';
import type { Optimizer } from './optim.ts';

interface ParamMapping {
  name: string;
  tensor: Tensor;
  torchShape: number[];
  toTorch(ours: Float32Array): Float32Array;
  fromTorch(theirs: Float32Array): Float32Array;
}

const identity = (a: Float32Array) => a.slice();

/** Index maps between our layout and torch's: ours[i] = torch[perm[i]]. */
function permuted(perm: Int32Array): Pick<ParamMapping, 'toTorch' | 'fromTorch'> {
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

function convPerm(kh: number, kw: number, ci: number, co: number): Int32Array {
  const perm = new Int32Array(kh * kw * ci * co);
  for (let h = 0; h < kh; h++) for (let w = 0; w < kw; w++) for (let c = 0; c < ci; c++) for (let o = 0; o < co; o++) {
    perm[((h * kw + w) * ci + c) * co + o] = ((o * ci + c) * kh + h) * kw + w;
  }
  return perm;
}

function densePerm(inF: number, outF: number, hwc: [number, number, number] | null): Int32Array {
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

function loadEntry(p: ParamMapping, target: Tensor, e: StEntry | undefined, key: string, what: string): void {
  if (!e) throw new Error(`${what}: missing tensor '${key}'`);
  if (e.shape.length !== p.torchShape.length || e.shape.some((d, i) => d !== p.torchShape[i])) {
    throw new Error(`${what}: tensor '${key}' has shape [${e.shape}], the model expects [${p.torchShape}]`);
  }
  target.view().set(p.fromTorch(toFloat32(e, key)));
}

/** Loads a PyTorch-layout state_dict into the model; unknown or missing keys are errors. */
export function loadTorchStateDict(model: Module, tensors: Map<string, StEntry>, what = 'checkpoint', allowExtra: (key: string) => boolean = () => false): void {
  const mapping = torchMapping(model);
  const names = new Set(mapping.map((p) => p.name));
  for (const key of tensors.keys()) if (!names.has(key) && !allowExtra(key)) throw new Error(`${what}: unexpected tensor '${key}' (the model has ${[...names].join(', ')})`);
  for (const p of mapping) loadEntry(p, p.tensor, tensors.get(p.name), p.name, what);
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

/** Restores model, optimizer state and counters saved by saveTrainingState. */
export function loadTrainingState(path: string, model: Module, opt: Optimizer): TrainingState & Record<string, string | number> {
  const file = readSafetensors(path);
  const meta = file.metadata;
  if (meta.format !== 'multirobust-training-state') throw new Error(`${path}: not a training state file (metadata format = ${meta.format})`);
  if (meta.optimizer !== opt.constructor.name) throw new Error(`${path}: saved with optimizer ${meta.optimizer}, resuming with ${opt.constructor.name}`);
  loadTorchStateDict(model, file.tensors, path, (k) => k.startsWith('optim.'));
  for (const slot of opt.stateSlots()) {
    for (const p of torchMapping(model)) {
      const i = opt.params.indexOf(p.tensor);
      if (i >= 0) loadEntry(p, opt.slot(slot, i), file.tensors.get(`optim.${slot}.${p.name}`), `optim.${slot}.${p.name}`, path);
    }
  }
  opt.stepCount = Number(meta.optimizerSteps);
  const out: Record<string, string | number> = { ...meta };
  out.step = Number(meta.step);
  out.epoch = Number(meta.epoch);
  return out as TrainingState;
}
