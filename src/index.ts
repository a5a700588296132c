// The package root, `multirobust`: the task API. Four entry points in all, each name in one of them
// (test/public_api.test.ts pins the lists; a change to them is a deliberate edit of that test):
//   multirobust          this file: load an engine, tensors and autodiff, models, data, checkpoints,
//                        attacks, evaluation, training, ONNX in and out
//   multirobust/engine   src/engine.ts: the engine class, its arena and kernel table (writing kernels)
//   multirobust/kernels  src/kernels/index.ts: the arena-buffer kernel wrappers (hot loops, new ops)
//   multirobust/report   src/report/index.ts: SVG line charts and PNG image grids
// Everything else (WorstCase, scoreLogits, NormPGD, splitTokens, trainingAttacks, …) is internal.

// Bad input (a value, a file, a token): what the library throws when the fault is the caller's.
export { InputError } from './errors.ts';
// Engine loading. `Engine` is a type here (every layer and model takes one); the class is in multirobust/engine.
export { loadEngine, getEngine, missingFeatures, type EngineOptions, type KernelIsa, type BuildName } from './wasm/load.ts';
export type { Engine } from './wasm/engine.ts';
// Tensors, autodiff and the tensor ops (ops.softmaxCrossEntropy, ops.conv2d, … and defineOp for new ones).
export { Tensor, sizeOf, type Shape, type TensorOptions } from './tensor.ts';
export { backward, grad, noGrad, isGradEnabled } from './autograd.ts';
export * as ops from './ops/index.ts';
// Layers, initializers, optimizers, learning-rate schedules and the paper's CNN.
export { Module } from './nn/module.ts';
export { Conv2d, Dense, ReLU, MaxPool2d, Flatten, Sequential } from './nn/layers.ts';
export type { Padding } from './kernels/conv2d.ts';
export { Rng, glorotUniform, heNormal, heUniform, zeros, initializers, type Initializer } from './nn/init.ts';
export { Adam, SGD, type Optimizer } from './nn/optim.ts';
export { piecewiseConstant, piecewiseLinear, triangular, cosine, constant, type Schedule } from './nn/schedule.ts';
export { mnistCnn, type MnistCnnWidths } from './nn/models.ts';
// Checkpoints (PyTorch names and layouts) and the safetensors files they are.
export { saveModel, loadModel, torchStateDict, loadTorchStateDict, saveTrainingState, loadTrainingState, type TrainingState } from './nn/checkpoint.ts';
export { parseSafetensors, serializeSafetensors, readSafetensors, writeSafetensors, toFloat32, type StFile, type StEntry, type StTensor, type Dtype } from './io/safetensors.ts';
// ONNX: any supported graph in as a model, the paper's CNN or an imported graph out.
export { importOnnx, exportOnnxModel, OnnxModel, OnnxImportError, type OnnxInfo } from './onnx/import.ts';
export { exportMnistCnn } from './onnx/export.ts';
// Data: MNIST offline, any IDX pair, batches.
export { parseIdx, loadIdxPair, loadMnist, mnistDataDir, batches, gather, shuffledIndices, type ImageDataset, type Batch } from './train/data.ts';
// Perturbations on plain Float32Arrays (async, on the default engine).
export { projectLinf, projectL2, projectL1, projectL1Box, rotateTranslate, type Eps } from './perturb.ts';
// Attacks: the classes, the tokens of `multirobust eval` and runAttack.
export { runAttack, parseEps, type Attack, type AttackOutcome, type CommonOptions, type ThreatName } from './attacks/attack.ts';
export type { AttackBatch, Classifier, LossName } from './attacks/core.ts';
export { LinfPGD, L2PGD, SLIDE, type PgdOptions, type SlideOptions } from './attacks/pgd.ts';
export { L1APGD, type L1ApgdOptions } from './attacks/l1apgd.ts';
export { APGD, type ApgdOptions } from './attacks/apgd.ts';
export { Square, type SquareOptions } from './attacks/square.ts';
export { RTGrid, RTRandom, RTPGD } from './attacks/spatial.ts';
export { Affine, type AffineOptions } from './attacks/affine.ts';
export { Pointwise, Boundary } from './attacks/decision_attacks.ts';
export { parseAttack, parseAttacks, KINDS } from './attacks/parse.ts';
export type { KindSpec, OptionSpec, Settings } from './attacks/schema.ts';
// Evaluation: suites, reports, shards, Wilson intervals.
export { evaluate, formatReport, EvalStateMismatch, type EvalData, type EvalOptions, type EvalReport, type AttackReport, type ShardSpec, type ShardReport } from './eval/evaluate.ts';
export { suiteTokens, SUITES, DEFAULT_THREATS, type SuiteName } from './eval/suites.ts';
export { mergeShards, parseShard } from './eval/shard.ts';
export { wilson } from './eval/report.ts';
// Adversarial training.
export { trainModel, accuracy, STRATEGIES, SCHEDULES, type Strategy, type TrainOptions, type TrainResult, type EpochResult, type StepProgress } from './train/train.ts';
