// The training loop, one for every strategy (src/train/strategies.ts; `none` is standard training):
// Adam on the paper's MNIST CNN (or narrower widths), seeded shuffling, a learning-rate schedule,
// start-small (ε/3 in the first epoch, paper.md §1.3), training attacks with their own settings,
// and a training state that resumes bit-identically, also from the middle of an epoch.
//
// Per step: the clean batch x0 (B, 28, 28, 1) → the strategy's training batch (attacks run with
// earlyStop off, on the model being trained; they differentiate x only) → one Adam step on the
// mean cross-entropy over its rows. Threading: the kernels' (the engine's pool); the same seed and
// thread count give the same bits.
//
// Randomness: the model's initialisation (seed), the epoch shuffles (Rng(seed + 1)), attack
// random starts keyed by (mixSeed(seed, k), step·batch + row), `sampled`'s draws (Rng(seed + 2)).
// The state file holds the shuffle Rng as it was at the start of the current epoch and the number
// of batches done in it, so a resumed run replays the same permutation and skips them.
import { backward, noGrad } from '../autograd.ts';
import type { Attack } from '../attacks/attack.ts';
import { argmaxRows, logitsAt, mixSeed, scoreLogits } from '../attacks/core.ts';
import { parseAttack } from '../attacks/parse.ts';
import { loadTrainingState, saveTrainingState } from '../nn/checkpoint.ts';
import { Rng } from '../nn/init.ts';
import { mnistCnn, type MnistCnnWidths } from '../nn/models.ts';
import type { Module } from '../nn/module.ts';
import { Adam } from '../nn/optim.ts';
import { cosine, piecewiseConstant, triangular, type Schedule } from '../nn/schedule.ts';
import { mean, softmaxCrossEntropy } from '../ops/index.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';
import { batches, type ImageDataset } from './data.ts';
import { checkStrategy, countCorrect, newSamplerState, scaleToken, strategyBatch, type SamplerState, type Strategy } from './strategies.ts';

export { STRATEGIES, type Strategy } from './strategies.ts';

export const SCHEDULES = ['step', 'triangular', 'cosine'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

export interface TrainOptions {
  strategy: Strategy;
  /** Training attack tokens (src/attacks/parse.ts); empty for none. */
  attacks: string[];
  /** Also train against the affine mix of the first two attacks (token affine(A+B)). */
  affine?: boolean;
  /** Default steps of the training attacks (a token's own steps= wins). Default 10. */
  attackSteps?: number;
  /** ε/3 (RT: limits/3) during the first epoch. */
  startSmall?: boolean;
  epochs: number;
  batch: number;
  seed: number;
  lr: number;
  /** 'step' (÷10 at lrDropStep, default 3/4 of the steps), 'triangular' (0 → lr → 0, each step at its midpoint: none at 0), 'cosine'. */
  schedule?: ScheduleName;
  lrDropStep?: number;
  /** Model widths (default: the paper's 32, 64, 1024). */
  widths?: MnistCnnWidths;
  /** Builds the model to train instead of the paper's CNN (an imported ONNX graph: fine-tuning). */
  makeModel?: () => Module;
  /** Training state file: written every `checkpointEvery` steps and after every epoch. */
  statePath?: string;
  checkpointEvery?: number;
  /** Resume from statePath when it exists. */
  resume?: boolean;
  /** Stop after this epoch (1-based) as if interrupted: the schedule still spans `epochs`. */
  stopAfterEpoch?: number;
  /** Stop after this many global steps (the state is saved there when statePath is set). */
  stopAfterStep?: number;
  log?: (line: string) => void;
  /** A plain progress line every N steps (0 = only per epoch). */
  logEvery?: number;
  /** Called after every step (progress bars). */
  onStep?: (p: StepProgress) => void;
  /**
   * Called just before the state file is written, with the global step it will hold: a log written
   * here never lags the state (killed in between, the state is the older one and a resume drops the
   * log's newer records).
   */
  beforeSave?: (step: number) => void;
  /** Called after every epoch, before its state is saved (evaluations, checkpoints). */
  onEpoch?: (r: EpochResult, model: Module) => void;
  /** Clean test accuracy after every epoch on this set (none: as train:standard always did). */
  test?: ImageDataset;
}

export interface StepProgress {
  epoch: number;
  epochs: number;
  /** Batches done in this epoch, and per epoch. */
  batch: number;
  batches: number;
  step: number;
  totalSteps: number;
  loss: number;
  cleanAcc: number;
  advAcc: number | null;
  imagesPerSec: number;
  lr: number;
}

export interface EpochResult {
  epoch: number;
  step: number;
  loss: number;
  /** Clean accuracy on the training batches (before each update). */
  trainAcc: number;
  /** Adversarial accuracy on the training batches (null for none). */
  advAcc: number | null;
  testAcc: number | null;
  imagesPerSec: number;
  /** Input-gradient evaluations and forwards of the attacks per training image. */
  gradEvalsPerImage: number;
  forwardsPerImage: number;
  lr: number;
  seconds: number;
}

export interface TrainResult {
  model: Module;
  epochs: EpochResult[];
  /** Global steps done (including those before a resume). */
  steps: number;
}

function correctCount(logits: Float32Array, labels: Int32Array): number {
  const predicted = argmaxRows(logits, labels.length);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) correct++;
  return correct;
}

/** Clean accuracy of `model` on `ds` (no tape). */
export function accuracy(engine: Engine, model: Module, ds: ImageDataset, batchSize = 500): number {
  let correct = 0;
  for (const b of batches(ds, batchSize)) {
    engine.arena.scope(() => noGrad(() => {
      const logits = model.call(Tensor.from(engine, b.images, [b.size, ds.height, ds.width, ds.channels]));
      correct += correctCount(logits.toArray(), b.labels);
    }));
  }
  return correct / ds.n;
}

/** The training attacks of `opts` at budget scale f (seeds mixSeed(seed, k)). Throws RangeError on a bad token or strategy. */
export function trainingAttacks(opts: Pick<TrainOptions, 'strategy' | 'attacks' | 'affine' | 'attackSteps' | 'seed'>, f = 1): Attack[] {
  const tokens = [...opts.attacks];
  if (opts.affine) {
    if (tokens.length < 2) throw new RangeError('--affine needs at least two attacks');
    tokens.push(`affine(${tokens[0]}+${tokens[1]})`);
  }
  const attacks = tokens.map((t, k) => parseAttack(f === 1 ? t : scaleToken(t, f), { steps: opts.attackSteps ?? 10, restarts: 1, seed: mixSeed(opts.seed, k) }));
  checkStrategy(opts.strategy, attacks);
  return attacks;
}

export function makeSchedule(opts: Pick<TrainOptions, 'lr' | 'schedule' | 'lrDropStep'>, totalSteps: number): Schedule {
  switch (opts.schedule ?? 'step') {
    case 'step': return piecewiseConstant([[0, opts.lr], [opts.lrDropStep ?? Math.max(1, Math.floor((totalSteps * 3) / 4)), opts.lr / 10]]);
    // Step s takes the rate at its midpoint s + ½: 0 → lr → 0 without a step at lr 0 (the first and the last take lr/T).
    case 'triangular': {
      const tri = triangular(totalSteps, opts.lr, 0);
      return (step) => tri(step + 0.5);
    }
    case 'cosine': return cosine(totalSteps, opts.lr, 0);
    default: throw new RangeError(`unknown schedule '${opts.schedule}' (one of step, triangular, cosine)`);
  }
}

interface EpochSums {
  loss: number;
  clean: number;
  adv: number;
  advRows: number;
  seen: number;
  grads: number;
  forwards: number;
  seconds: number;
}

const zeroSums = (): EpochSums => ({ loss: 0, clean: 0, adv: 0, advRows: 0, seen: 0, grads: 0, forwards: 0, seconds: 0 });

/** Trains a new model on `train` with opts.strategy (see the header). */
export function trainModel(engine: Engine, opts: TrainOptions, train: ImageDataset): TrainResult {
  const log = opts.log ?? (() => {});
  if (!Number.isInteger(opts.batch) || opts.batch < 1) throw new RangeError(`batch must be a positive integer, got ${opts.batch}`);
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new RangeError(`epochs must be a positive integer, got ${opts.epochs}`);
  const full = trainingAttacks(opts);
  const small = opts.startSmall && full.length ? trainingAttacks(opts, 1 / 3) : full;
  const stepsPerEpoch = Math.ceil(train.n / opts.batch);
  const totalSteps = stepsPerEpoch * opts.epochs;
  const model = opts.makeModel ? opts.makeModel() : mnistCnn(engine, opts.seed, opts.widths);
  const opt = new Adam(model.parameters(), { lr: makeSchedule(opts, totalSteps) });
  let rng = new Rng(opts.seed + 1);
  let sampleRng = new Rng(opts.seed + 2);
  let sampler: SamplerState = newSamplerState(full.length);
  let startEpoch = 0, skip = 0;
  let sums = zeroSums();
  if (opts.statePath && opts.resume) {
    const st = loadTrainingState(opts.statePath, model, opt);
    if (st.strategy !== opts.strategy) throw new Error(`${opts.statePath}: saved by strategy ${st.strategy}, resuming with ${opts.strategy}`);
    rng = Rng.fromState(String(st.rng));
    sampleRng = Rng.fromState(String(st.sampleRng));
    sampler = JSON.parse(String(st.sampler));
    sums = JSON.parse(String(st.sums));
    startEpoch = st.epoch;
    skip = Number(st.batchInEpoch);
    log(`resumed from ${opts.statePath}: epoch ${st.epoch}, step ${st.step}`);
  }
  const save = (epoch: number, batchInEpoch: number, epochRng: string) => {
    if (!opts.statePath) return;
    opts.beforeSave?.(opt.stepCount);
    saveTrainingState(opts.statePath, model, opt, {
      step: opt.stepCount, epoch, rng: epochRng, batchInEpoch, strategy: opts.strategy,
      sampleRng: sampleRng.getState(), sampler: JSON.stringify(sampler), sums: JSON.stringify(sums),
    });
  };
  const results: EpochResult[] = [];
  for (let epoch = startEpoch; epoch < opts.epochs; epoch++) {
    const attacks = epoch === 0 ? small : full;
    const epochRng = rng.getState();
    let batchIndex = 0;
    let t0 = performance.now();
    let stopped = false;
    for (const b of batches(train, opts.batch, { rng })) {
      if (batchIndex < skip) {
        batchIndex++;
        continue;
      }
      const step = opt.stepCount;
      const lr = opt.lr();
      engine.arena.scope(() => {
        const x0 = Tensor.from(engine, b.images, [b.size, train.height, train.width, train.channels]);
        const ids = Int32Array.from({ length: b.size }, (_, i) => step * opts.batch + i);
        // Clean accuracy of the batch with the weights the attacks see (one forward, not counted as attack cost).
        const cleanCorrect = opts.strategy === 'none' ? 0 : countCorrect(scoreLogits(logitsAt(model, x0), b.labels).wrong);
        const tb = strategyBatch(opts.strategy, { engine, model, x0, y: b.labels, ids, attacks, step, rng: sampleRng, sampler });
        const logits = model.call(tb.x);
        const loss = mean(softmaxCrossEntropy(logits, tb.y));
        model.zeroGrad();
        backward(loss);
        opt.step();
        sums.loss += loss.item() * b.size;
        if (opts.strategy === 'none') sums.clean += correctCount(logits.toArray(), b.labels);
        else {
          sums.clean += cleanCorrect;
          sums.adv += tb.advCorrect!;
          sums.advRows += tb.advRows;
        }
        sums.seen += b.size;
        sums.grads += tb.gradEvals;
        sums.forwards += tb.forwards;
      });
      batchIndex++;
      const now = performance.now();
      sums.seconds += (now - t0) / 1000;
      t0 = now;
      const progress: StepProgress = {
        epoch: epoch + 1, epochs: opts.epochs, batch: batchIndex, batches: stepsPerEpoch, step: opt.stepCount, totalSteps,
        loss: sums.loss / sums.seen, cleanAcc: sums.clean / sums.seen, advAcc: sums.advRows ? sums.adv / sums.advRows : null,
        imagesPerSec: sums.seen / Math.max(sums.seconds, 1e-9), lr,
      };
      opts.onStep?.(progress);
      if (opts.logEvery && opt.stepCount % opts.logEvery === 0) {
        log(`  step ${opt.stepCount}  loss ${progress.loss.toFixed(4)}  train acc ${(100 * progress.cleanAcc).toFixed(2)} %${progress.advAcc === null ? '' : `  adv acc ${(100 * progress.advAcc).toFixed(2)} %`}  ${progress.imagesPerSec.toFixed(0)} images/s`);
      }
      const atEnd = batchIndex === stepsPerEpoch;
      if (opts.stopAfterStep !== undefined && opt.stepCount >= opts.stopAfterStep && !atEnd) {
        save(epoch, batchIndex, epochRng);
        stopped = true;
        break;
      }
      if (!atEnd && opts.checkpointEvery && opt.stepCount % opts.checkpointEvery === 0) save(epoch, batchIndex, epochRng);
    }
    if (stopped) break;
    skip = 0;
    const testAcc = opts.test ? accuracy(engine, model, opts.test) : null;
    const r: EpochResult = {
      epoch: epoch + 1, step: opt.stepCount, loss: sums.loss / sums.seen, trainAcc: sums.clean / sums.seen,
      advAcc: sums.advRows ? sums.adv / sums.advRows : null, testAcc, imagesPerSec: sums.seen / Math.max(sums.seconds, 1e-9),
      gradEvalsPerImage: sums.grads / sums.seen, forwardsPerImage: sums.forwards / sums.seen, lr: opt.lr(), seconds: sums.seconds,
    };
    results.push(r);
    log(`epoch ${r.epoch}/${opts.epochs}  loss ${r.loss.toFixed(4)}  train acc ${(100 * r.trainAcc).toFixed(2)} %${r.advAcc === null ? '' : `  adv acc ${(100 * r.advAcc).toFixed(2)} %`}${testAcc === null ? '' : `  test acc ${(100 * testAcc).toFixed(2)} %`}  ${r.imagesPerSec.toFixed(0)} images/s  lr ${opt.lr().toExponential(0)}`);
    opts.onEpoch?.(r, model);
    sums = zeroSums();
    save(epoch + 1, 0, rng.getState());
    if (opts.stopAfterEpoch !== undefined && epoch + 1 >= opts.stopAfterEpoch) break;
    if (opts.stopAfterStep !== undefined && opt.stepCount >= opts.stopAfterStep) break;
  }
  opt.dispose();
  return { model, epochs: results, steps: opt.stepCount };
}
