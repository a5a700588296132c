// `multirobust/kernels`: the arena-buffer kernel wrappers, one function per kernel pass on an Engine
// and F32Buf/I32Buf arguments (shape arithmetic and argument checks, then one kernel call; no copies,
// no autodiff). For hot loops and new ops; everyday code uses the tensor ops (`ops` at the package
// root), whose softmaxCrossEntropy, relu, … take Tensors and are differentiable. Files' own helpers
// (check.ts, splitColumns, winogradApplies, checkEpsValues) stay internal.
export { gemm, type GemmArgs } from './gemm.ts';
export { conv2dGeometry, conv2dForward, conv2dBackwardInput, conv2dBackwardFilter, type Conv2dGeometry, type Conv2dShape, type Padding, type ConvAlgorithm } from './conv2d.ts';
export { biasAdd, biasBackward, relu, reluBackward, leakyRelu, leakyReluBackward, type BiasAddArgs, type BiasBackwardArgs, type ReluArgs, type ReluBackwardArgs, type LeakyReluArgs, type LeakyReluBackwardArgs } from './activation.ts';
export { maxPool2x2, maxPool2x2Backward, maxPool2x2Shape, type MaxPool2x2Args, type MaxPool2x2BackwardArgs } from './pool.ts';
export { avgPool2d, avgPool2dBackward, avgPoolShape, maxPool, maxPoolBackward, type AvgPoolGeometry, type AvgPoolShape } from './avgpool.ts';
export { softmaxCrossEntropy, softmaxCrossEntropyBackward, marginLoss, marginLossBackward, labelsFrom, type LossArgs, type LossBackwardArgs } from './loss.ts';
export { adamStep, sgdStep, type AdamStepArgs, type SgdStepArgs } from './optim.ts';
export { projLinf, projL2, projL1, projL1Box, type ProjArgs } from './proj.ts';
export { norms, sign, slideDirection, randomStart, type RowsArgs, type SlideArgs, type RandomStartArgs, type RandomStartKind } from './norms.ts';
export { spatialForward, spatialBackwardInput, spatialBackwardParams, type SpatialShape } from './spatial.ts';
