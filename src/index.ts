// Public API of multirobust.
export { loadEngine, getEngine, missingFeatures, type EngineOptions, type KernelIsa, type BuildName } from './wasm/load.ts';
export { Engine, Params, type KernelFn } from './wasm/engine.ts';
export { Arena, OutOfMemoryError, type F32Buf } from './wasm/memory.ts';
export { gemm, type GemmArgs } from './kernels/gemm.ts';
export { conv2dGeometry, conv2dForward, conv2dBackwardInput, conv2dBackwardFilter, type Conv2dGeometry, type Conv2dShape, type Padding } from './kernels/conv2d.ts';
