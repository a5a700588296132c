// Kernel cases shared by bench:kernels and bench:threads: GEMM and the CNN's convolution passes on
// seeded inputs. `setup` allocates in one engine and returns the call to time and its output.
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dGeometry, type ConvAlgorithm, type Conv2dShape } from '../src/kernels/conv2d.ts';
import { gemm } from '../src/kernels/gemm.ts';
import type { Engine } from '../src/wasm/engine.ts';
import { randomArray, validate } from './_util.ts';
import { CONV1, CONV2, FC1, GEMM_SQUARE } from './shapes.ts';

export interface KernelCase {
  name: string;
  flops: number;
  /** Reduces across the split index (threads validate it with a tolerance, not bit for bit). */
  reduction: boolean;
  /** Max relative difference allowed between thread counts for a reduction (default 1e-5). */
  reductionTol?: number;
  setup(engine: Engine): { run: () => void; output: () => Float32Array };
}

export type ConvPass = 'fwd' | 'bwd_input' | 'bwd_filter';

export function gemmCase(name: string, s: { M: number; N: number; K: number }, transA = false, transB = false): KernelCase {
  return {
    name,
    flops: 2 * s.M * s.N * s.K,
    reduction: false,
    setup(engine) {
      const a = engine.fromF32(randomArray(s.M * s.K, 1));
      const b = engine.fromF32(randomArray(s.K * s.N, 2));
      const c = engine.arena.allocF32(s.M * s.N);
      return { run: () => gemm(engine, { ...s, a, b, c, transA, transB }), output: () => engine.toF32(c) };
    },
  };
}

/**
 * One case per pass. `algorithm` is passed to every call (default: the engine's choice). FLOPs are
 * always the direct convolution's, so Winograd's GFLOP/s are effective ones.
 */
export function convCases(label: string, shape: Conv2dShape, passes: ConvPass[], algorithm?: ConvAlgorithm): KernelCase[] {
  const g = conv2dGeometry(shape);
  const suffix = algorithm === 'winograd' ? ' (Winograd)' : algorithm === 'gemm' ? ' (implicit GEMM)' : '';
  return passes.map((pass) => ({
    name: `${label} ${pass}${suffix}`,
    flops: g.flops,
    reduction: pass === 'bwd_filter',
    // NOTE: Winograd's filter gradient sums transformed terms up to ~25× the direct products, so a
    // different split rounds differently by more (measured 3.5e-5 relative at 2 threads).
    reductionTol: algorithm === 'winograd' ? 1e-4 : undefined,
    setup(engine: Engine) {
      const x = engine.fromF32(randomArray(g.xSize, 3, 0, 1));
      const w = engine.fromF32(randomArray(g.wSize, 4, -0.1, 0.1));
      const dy = engine.fromF32(randomArray(g.ySize, 5));
      const bias = engine.fromF32(randomArray(g.cout, 6));
      const y = engine.arena.allocF32(g.ySize), dx = engine.arena.allocF32(g.xSize), dw = engine.arena.allocF32(g.wSize);
      if (pass === 'fwd') return { run: () => conv2dForward(engine, { x, w, bias, y, geom: g, relu: true, algorithm }), output: () => engine.toF32(y) };
      if (pass === 'bwd_input') return { run: () => conv2dBackwardInput(engine, { dy, w, dx, geom: g, algorithm }), output: () => engine.toF32(dx) };
      return { run: () => conv2dBackwardFilter(engine, { x, dy, dw, geom: g, algorithm }), output: () => engine.toF32(dw) };
    },
  }));
}

/** bench:threads' cases: GEMM 512³ and the paper's CNN layers at batch 100 (conv2 on both algorithms). */
export const THREAD_CASES: KernelCase[] = [
  gemmCase('gemm 512×512×512', GEMM_SQUARE),
  ...convCases('conv2 14×14×32→64 k5', CONV2, ['fwd', 'bwd_input', 'bwd_filter'], 'gemm'),
  ...convCases('conv2 14×14×32→64 k5', CONV2, ['fwd', 'bwd_input', 'bwd_filter'], 'winograd'),
  ...convCases('conv1 28×28×1→32 k5', CONV1, ['fwd', 'bwd_filter']),
  gemmCase('fc1 fwd 100×3136→1024', FC1),
  gemmCase('fc1 bwd_weight (Xᵀ·dY)', { M: FC1.K, K: FC1.M, N: FC1.N }, true, false),
];

/** A split run's output against the 1-thread one: bit-identical, or within reductionTol (default 1e-5) for reductions. */
export function validateThreadSplit(c: KernelCase, got: Float32Array, want: Float32Array): void {
  const label = `${c.name} 2 threads vs 1`;
  if (c.reduction) {
    validate(label, got, want, c.reductionTol ?? 1e-5);
    return;
  }
  if (got.length !== want.length) throw new Error(`${label}: length ${got.length} != ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) throw new Error(`${label}: validation failed at [${i}]: ${got[i]} vs ${want[i]}`);
  }
}
