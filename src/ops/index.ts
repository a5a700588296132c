// All ops: importing this module registers every op family once (the only list).
export { add, sub, mul, neg, scale, addScalar, relu, leakyRelu, biasAdd } from './elementwise.ts';
export { sum, mean } from './reduce.ts';
export { reshape, flatten } from './shape.ts';
export { dense, matmul } from './matmul.ts';
export { conv2d, type Conv2dAttrs } from './conv2d.ts';
export { maxPool2d, maxPool, avgPool2d, globalAvgPool, type AvgPool2dAttrs } from './pool.ts';
export { softmaxCrossEntropy, marginLoss, type LossAttrs } from './loss.ts';
export { spatialTransform } from './spatial.ts';
export { defineOp, getOp, listOps, type OpDef, type OpContext } from './registry.ts';
