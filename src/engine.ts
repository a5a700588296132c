// `multirobust/engine`: the engine's own layer, for code that writes kernels or calls them directly:
// the Engine class (kernel table, run/reduce, buffers), the Params block builder, the arena and its
// out-of-memory error, and the kernel names the module must export. Loading an engine (loadEngine,
// getEngine, missingFeatures) is at the package root; the kernel wrappers are in multirobust/kernels.
export { Engine, Params, type KernelFn } from './wasm/engine.ts';
export { Arena, OutOfMemoryError, type F32Buf } from './wasm/memory.ts';
export type { I32Buf } from './kernels/check.ts';
export { KERNEL_NAMES, REDUCTION_KERNELS, type KernelName } from './wasm/exports.ts';
