// Public API of multirobust.
export { loadEngine, getEngine, missingFeatures, type EngineOptions, type KernelIsa, type BuildName } from './wasm/load.ts';
export { Engine, Params, type KernelFn } from './wasm/engine.ts';
export { Arena, OutOfMemoryError, type F32Buf } from './wasm/memory.ts';
export { gemm, type GemmArgs } from './kernels/gemm.ts';
