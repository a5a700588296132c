// Peer: our engine (multirobust) on the paper's MNIST CNN (src/nn/models.ts mnistCnn), loaded from
// the shared PyTorch-layout weights through loadTorchStateDict. Two copies of the model, as the
// other peers do: a frozen one (forward, input gradient: its parameters do not require a gradient,
// so conv2d's vjp never runs the filter-gradient kernel) and a trained one (forward, backward, Adam).
// Every call runs inside an arena scope: nothing but the parameters and Adam's moments outlives it.
import { backward, grad, noGrad } from '../../src/autograd.ts';
import { loadTorchStateDict } from '../../src/nn/checkpoint.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import type { Module } from '../../src/nn/module.ts';
import { Adam } from '../../src/nn/optim.ts';
import { mean, softmaxCrossEntropy } from '../../src/ops/index.ts';
import type { StEntry } from '../../src/io/safetensors.ts';
import { Tensor } from '../../src/tensor.ts';
import type { Engine } from '../../src/wasm/engine.ts';
import { loadEngine } from '../../src/wasm/load.ts';
import { IMAGE, type Peer, type WeightName, type Weights } from './model.ts';

export interface OursOptions {
  /** Kernel threads of a new engine (default: loadEngine's, i.e. all cores). Ignored with `engine`. */
  threads?: number;
  /** Run on this engine (the caller closes it); default: a new engine that dispose() closes. */
  engine?: Engine;
  /** Adam learning rate of the train step (default 1e-3). */
  learningRate?: number;
  /** Appended to the peer's name, e.g. 'implicit GEMM only'. */
  variant?: string;
}

export interface OursPeer extends Peer {
  readonly engine: Engine;
}

/** The shared weights as a PyTorch state_dict (F32 safetensors entries). */
function stateDict(W: Weights): Map<string, StEntry> {
  const dict = new Map<string, StEntry>();
  for (const name of Object.keys(W) as WeightName[]) {
    const { shape, data } = W[name];
    dict.set(name, { dtype: 'F32', shape: [...shape], bytes: new Uint8Array(data.slice().buffer) });
  }
  return dict;
}

function model(engine: Engine, W: Weights, frozen: boolean): Module {
  const m = mnistCnn(engine, 0);
  loadTorchStateDict(m, stateDict(W), 'bench weights');
  if (frozen) for (const p of m.parameters()) p.requiresGrad = false;
  return m;
}

export async function ourPeer(W: Weights, opts: OursOptions = {}): Promise<OursPeer> {
  const engine = opts.engine ?? (await loadEngine({ threads: opts.threads }));
  const owned = !opts.engine;
  const lr = opts.learningRate ?? 1e-3;
  const frozen = model(engine, W, true);
  const trained = model(engine, W, false);
  const adam = new Adam(trained.parameters(), { lr });
  const input = (x: Float32Array) => {
    const n = x.length / (IMAGE.h * IMAGE.w * IMAGE.c);
    if (!Number.isInteger(n) || n < 1) throw new Error(`x: length ${x.length} is not a multiple of 28·28`);
    return Tensor.from(engine, x, [n, IMAGE.h, IMAGE.w, IMAGE.c]);
  };

  return {
    name: `ours (${engine.threads} thread${engine.threads > 1 ? 's' : ''}${opts.variant ? `, ${opts.variant}` : ''})`,
    threads: engine.threads,
    optimizer: `Adam(lr ${lr})`,
    engine,
    async forward(x) {
      return engine.arena.scope(() => noGrad(() => frozen.call(input(x)).toArray()));
    },
    async inputGrad(x, y) {
      return engine.arena.scope(() => {
        const xt = input(x);
        const [dx] = grad(() => mean(softmaxCrossEntropy(frozen.call(xt), y)), [xt]);
        return dx.toArray();
      });
    },
    async trainStep(x, y) {
      return engine.arena.scope(() => {
        const loss = mean(softmaxCrossEntropy(trained.call(input(x)), y));
        trained.zeroGrad();
        backward(loss);
        adam.step();
        return loss.item();
      });
    },
    dispose() {
      adam.dispose();
      frozen.dispose();
      trained.dispose();
      if (owned) void engine.close();
    },
  };
}
