// Public API of multirobust.
export { loadEngine, getEngine, missingFeatures, type EngineOptions, type KernelIsa, type BuildName } from './wasm/load.ts';
export { Engine, Params, type KernelFn } from './wasm/engine.ts';
export { Arena, OutOfMemoryError, type F32Buf } from './wasm/memory.ts';
export { gemm, type GemmArgs } from './kernels/gemm.ts';
export { conv2dGeometry, conv2dForward, conv2dBackwardInput, conv2dBackwardFilter, type Conv2dGeometry, type Conv2dShape, type Padding } from './kernels/conv2d.ts';
export { biasAdd, biasBackward, relu, reluBackward, type BiasAddArgs, type BiasBackwardArgs, type ReluArgs, type ReluBackwardArgs } from './kernels/activation.ts';
export { maxPool2x2, maxPool2x2Backward, maxPool2x2Shape, type MaxPool2x2Args, type MaxPool2x2BackwardArgs } from './kernels/pool.ts';
export { softmaxCrossEntropy, softmaxCrossEntropyBackward, marginLoss, marginLossBackward, labelsFrom, type LossArgs, type LossBackwardArgs, type I32Buf } from './kernels/loss.ts';
export { adamStep, sgdStep, type AdamStepArgs, type SgdStepArgs } from './kernels/optim.ts';
export { projectLinf, projectL2, projectL1, projectL1Box, spatialTransform, type Eps } from './perturb.ts';
export { projLinf, projL2, projL1, projL1Box, type ProjArgs } from './kernels/proj.ts';
export { norms, sign, slideDirection, randomStart, type SlideArgs, type RandomStartArgs, type RandomStartKind } from './kernels/norms.ts';
export { spatialForward, spatialBackwardInput, spatialBackwardParams, type SpatialShape } from './kernels/spatial.ts';
export { KERNEL_NAMES, REDUCTION_KERNELS, type KernelName } from './wasm/exports.ts';
