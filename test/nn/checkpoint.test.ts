import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backward, noGrad } from '../../src/autograd.ts';
import { readSafetensors, toFloat32, writeSafetensors, type StTensor } from '../../src/io/safetensors.ts';
import { loadModel, loadTrainingState, saveModel, saveTrainingState, torchStateDict } from '../../src/nn/checkpoint.ts';
import { Rng } from '../../src/nn/init.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import { Adam } from '../../src/nn/optim.ts';
import { mean, softmaxCrossEntropy } from '../../src/ops/index.ts';
import { Tensor } from '../../src/tensor.ts';
import { assertClose } from '../_helpers/close.ts';
import { engineFor } from '../_helpers/engine.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const TINY = { c1: 4, c2: 8, hidden: 16 };

/** Every parameter's values, to check that a failed load left them alone. */
const snapshot = (ts: Tensor[]) => ts.map((t) => Array.from(t.toArray()));

/** Rewrites a safetensors file with some tensors dropped and some metadata changed (undefined = removed). */
function rewrite(src: string, dst: string, drop: string[], meta: Record<string, string | undefined> = {}): void {
  const f = readSafetensors(src);
  const tensors: Record<string, StTensor> = {};
  for (const [k, e] of f.tensors) if (!drop.includes(k)) tensors[k] = { dtype: 'F32', shape: e.shape, data: toFloat32(e, k) };
  const metadata = { ...f.metadata };
  for (const [k, v] of Object.entries(meta)) if (v === undefined) delete metadata[k]; else metadata[k] = v;
  writeSafetensors(dst, tensors, metadata);
}

/** NCHW (N, 1, 28, 28) → NHWC: with one channel the bytes are the same. */
function fixtureIO() {
  const io = readSafetensors(join(FIXTURES, 'torch_tiny_cnn_io.safetensors'));
  return { inputs: toFloat32(io.tensors.get('inputs')!), logits: toFloat32(io.tensors.get('logits')!) };
}

describe('PyTorch checkpoints', async () => {
  const engine = await engineFor('simd');

  it('a state_dict written by PyTorch loads and gives the logits PyTorch gave', () => {
    const model = mnistCnn(engine, 123, TINY);
    const meta = loadModel(join(FIXTURES, 'torch_tiny_cnn.safetensors'), model);
    expect(meta.format).toBe('pt');
    const { inputs, logits } = fixtureIO();
    engine.arena.scope(() => {
      const out = noGrad(() => model.call(Tensor.from(engine, inputs, [4, 28, 28, 1])));
      assertClose('logits vs PyTorch', out.toArray(), logits, { atol: 2e-5, rtol: 1e-4 });
    });
    model.dispose();
  });

  it('re-saved, it is read back identically (names, shapes, bytes)', () => {
    const model = mnistCnn(engine, 5, TINY);
    const src = readSafetensors(join(FIXTURES, 'torch_tiny_cnn.safetensors'));
    loadModel(join(FIXTURES, 'torch_tiny_cnn.safetensors'), model);
    const path = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'again.safetensors');
    saveModel(path, model);
    const back = readSafetensors(path);
    expect([...back.tensors.keys()].sort()).toEqual([...src.tensors.keys()].sort());
    for (const [name, e] of src.tensors) {
      expect(back.tensors.get(name)!.shape, name).toEqual(e.shape);
      expect(Buffer.from(back.tensors.get(name)!.bytes).equals(Buffer.from(e.bytes)), `${name} bytes`).toBe(true);
    }
    model.dispose();
  });

  it('the full paper CNN maps to the PyTorch names and shapes', () => {
    const model = mnistCnn(engine, 0);
    const dict = torchStateDict(model);
    expect(Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, v.shape]))).toEqual({
      'conv1.weight': [32, 1, 5, 5], 'conv1.bias': [32], 'conv2.weight': [64, 32, 5, 5], 'conv2.bias': [64],
      'fc1.weight': [1024, 3136], 'fc1.bias': [1024], 'fc2.weight': [10, 1024], 'fc2.bias': [10],
    });
    model.dispose();
  });

  it('rejects wrong shapes, missing and unexpected tensors', () => {
    const model = mnistCnn(engine, 0, { c1: 4, c2: 8, hidden: 32 });
    expect(() => loadModel(join(FIXTURES, 'torch_tiny_cnn.safetensors'), model)).toThrow(/fc1.weight' has shape \[16,392\], the model expects \[32,392\]/);
    expect(() => loadModel(join(FIXTURES, 'torch_tiny_cnn_io.safetensors'), model)).toThrow(/unexpected tensor 'inputs'/);
    model.dispose();
  });

  it('a failed model load changes no parameter (conv1 comes before the bad fc1.weight)', () => {
    const model = mnistCnn(engine, 0, { c1: 4, c2: 8, hidden: 32 });
    const before = snapshot(model.parameters());
    expect(() => loadModel(join(FIXTURES, 'torch_tiny_cnn.safetensors'), model)).toThrow(/fc1.weight' has shape/);
    expect(snapshot(model.parameters())).toEqual(before);
    model.dispose();
  });

  it('a failed training-state load changes neither the model nor the optimizer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-'));
    const a = mnistCnn(engine, 1, TINY), optA = new Adam(a.parameters(), { lr: 1e-2 });
    optA.stepCount = 3;
    for (const s of optA.stateSlots()) optA.params.forEach((_, i) => optA.slot(s, i).view().fill(0.25));
    saveTrainingState(join(dir, 'full.safetensors'), a, optA, { step: 3, epoch: 1, rng: new Rng(1).getState() });
    // The last optimizer tensor is missing: the model's tensors and the first slots are valid.
    rewrite(join(dir, 'full.safetensors'), join(dir, 'cut.safetensors'), ['optim.v.fc2.bias']);
    const b = mnistCnn(engine, 2, TINY), optB = new Adam(b.parameters(), { lr: 1e-2 });
    const params = snapshot(b.parameters());
    const slots = optB.stateSlots().map((s) => snapshot(optB.params.map((_, i) => optB.slot(s, i))));
    expect(() => loadTrainingState(join(dir, 'cut.safetensors'), b, optB)).toThrow(/missing tensor 'optim.v.fc2.bias'/);
    expect(snapshot(b.parameters())).toEqual(params);
    expect(optB.stateSlots().map((s) => snapshot(optB.params.map((_, i) => optB.slot(s, i))))).toEqual(slots);
    expect(optB.stepCount).toBe(0);
    for (const m of [a, b]) m.dispose();
    optA.dispose();
    optB.dispose();
  });

  it.each([['step', undefined], ['epoch', 'one'], ['optimizerSteps', undefined], ['rng', undefined]] as const)(
    'training-state metadata %s = %s is an error naming it, not NaN', (key, value) => {
      const dir = mkdtempSync(join(tmpdir(), 'state-'));
      const a = mnistCnn(engine, 1, TINY), optA = new Adam(a.parameters(), { lr: 1e-2 });
      saveTrainingState(join(dir, 'full.safetensors'), a, optA, { step: 0, epoch: 0, rng: new Rng(1).getState() });
      rewrite(join(dir, 'full.safetensors'), join(dir, 'bad.safetensors'), [], { [key]: value });
      const before = snapshot(a.parameters());
      a.parameters()[0].view().fill(7);
      expect(() => loadTrainingState(join(dir, 'bad.safetensors'), a, optA)).toThrow(new RegExp(`metadata '${key}'`));
      expect(a.parameters()[0].toArray()[0]).toBe(7);
      expect(before[0][0]).not.toBe(7);
      a.dispose();
      optA.dispose();
    });

  it('training state (Adam moments, step, epoch, RNG) round-trips and resumes identically', () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-'));
    const { inputs } = fixtureIO();
    const labels = new Int32Array([1, 7, 3, 0]);
    const step = (model: ReturnType<typeof mnistCnn>, opt: Adam) => engine.arena.scope(() => {
      const loss = mean(softmaxCrossEntropy(model.call(Tensor.from(engine, inputs, [4, 28, 28, 1])), labels));
      model.zeroGrad();
      backward(loss);
      opt.step();
    });
    const a = mnistCnn(engine, 1, TINY), optA = new Adam(a.parameters(), { lr: 1e-2 });
    step(a, optA);
    step(a, optA);
    const rng = new Rng(9);
    rng.next();
    saveTrainingState(join(dir, 's.safetensors'), a, optA, { step: 2, epoch: 1, rng: rng.getState() });
    const b = mnistCnn(engine, 2, TINY), optB = new Adam(b.parameters(), { lr: 1e-2 });
    const st = loadTrainingState(join(dir, 's.safetensors'), b, optB);
    expect([st.step, st.epoch, optB.stepCount]).toEqual([2, 1, 2]);
    expect(Rng.fromState(st.rng).next()).toBe(rng.next());
    step(a, optA);
    step(b, optB);
    a.parameters().forEach((p, i) => expect(Array.from(b.parameters()[i].toArray()), p.name).toEqual(Array.from(p.toArray())));
    // The model part of a training state is still a plain PyTorch state_dict plus optim.* entries.
    const keys = [...readSafetensors(join(dir, 's.safetensors')).tensors.keys()];
    expect(keys.filter((k) => !k.startsWith('optim.')).length).toBe(8);
    expect(keys.filter((k) => k.startsWith('optim.m.')).length).toBe(8);
    for (const m of [a, b]) m.dispose();
    optA.dispose();
    optB.dispose();
  });
});
