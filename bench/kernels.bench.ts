// npm run bench:kernels — per-kernel GFLOP/s on one thread: the scalar twins vs the SIMD kernels
// (and the relaxed-SIMD build where the runtime validates it), on GEMM 512³ and the paper's MNIST
// CNN shapes at batch 100. Every variant's output is validated against the scalar twin first.
// Timing uses the process's CPU time (bench/_util.ts cpuTimeProvider): the kernels run on the
// calling thread only, and a shared machine's other load then does not distort the ratios.
import { Bench } from 'tinybench';
import type { Engine } from '../src/wasm/engine.ts';
import { loadEngine, supportsRelaxed, type EngineOptions } from '../src/wasm/load.ts';
import { cpuTimeProvider, fmt, markdownTable, medianMs, validate } from './_util.ts';
import { convCases, gemmCase, type KernelCase } from './cases.ts';
import { CONV1, CONV2, FC1, FC2, GEMM_SQUARE } from './shapes.ts';

type Variant = 'scalar' | 'simd' | 'relaxed';

const CASES: KernelCase[] = [
  gemmCase('gemm 512×512×512', GEMM_SQUARE),
  ...convCases('conv1 28×28×1→32 k5', CONV1, ['fwd', 'bwd_input', 'bwd_filter']),
  ...convCases('conv2 14×14×32→64 k5', CONV2, ['fwd', 'bwd_input', 'bwd_filter'], 'gemm'),
  ...convCases('conv2 14×14×32→64 k5', CONV2, ['fwd', 'bwd_input', 'bwd_filter'], 'winograd'),
  gemmCase('fc1 fwd 100×3136→1024', FC1),
  gemmCase('fc1 bwd_input (dY·Wᵀ)', { M: FC1.M, K: FC1.N, N: FC1.K }, false, true),
  gemmCase('fc1 bwd_weight (Xᵀ·dY)', { M: FC1.K, K: FC1.M, N: FC1.N }, true, false),
  gemmCase('fc2 fwd 100×1024→10', FC2),
];

async function main(): Promise<void> {
  const base: EngineOptions = { threads: 1, initialMemoryMiB: 256 };
  const engines: Partial<Record<Variant, Engine>> = {
    scalar: await loadEngine({ ...base, kernels: 'scalar', build: 'release' }),
    simd: await loadEngine({ ...base, kernels: 'simd', build: 'release' }),
  };
  const relaxed = await supportsRelaxed();
  if (relaxed) engines.relaxed = await loadEngine({ ...base, kernels: 'simd', build: 'relaxed' });
  const variants = Object.keys(engines) as Variant[];

  const bench = new Bench({ time: 1500, iterations: 3, warmupTime: 200, warmupIterations: 1, timestampProvider: cpuTimeProvider });
  for (const c of CASES) {
    const runs = Object.fromEntries(variants.map((v) => [v, c.setup(engines[v]!)])) as Record<Variant, ReturnType<KernelCase['setup']>>;
    for (const v of variants) runs[v].run();
    for (const v of variants) if (v !== 'scalar') validate(`${c.name} ${v} vs scalar`, runs[v].output(), runs.scalar.output());
    for (const v of variants) bench.add(`${c.name}|${v}`, runs[v].run);
  }
  console.error(`validated ${CASES.length} cases × ${variants.length} variants; timing (one thread)…`);
  await bench.run();

  const rows = CASES.map((c) => {
    const gf = (v: Variant) => c.flops / (medianMs(bench.getTask(`${c.name}|${v}`)) * 1e6);
    const row: (string | number)[] = [c.name, fmt(gf('scalar'), 2), fmt(gf('simd')), `${fmt(gf('simd') / gf('scalar'))}×`];
    if (relaxed) row.push(fmt(gf('relaxed')), `${fmt(gf('relaxed') / gf('scalar'))}×`);
    return row;
  });
  const header = ['kernel (batch 100)', 'scalar GFLOP/s', 'SIMD GFLOP/s', 'SIMD / scalar'];
  if (relaxed) header.push('relaxed-SIMD GFLOP/s', 'relaxed / scalar');
  console.log(`\nbench:kernels — one thread, median of tinybench samples timed in process CPU time (other processes on the machine do not count), ${new Date().toISOString()}`);
  console.log(markdownTable(header, rows));
  if (!relaxed) console.log('\n(relaxed-SIMD build not validated by this runtime: run with node --experimental-wasm-relaxed-simd, Node ≥ 22, or Deno)');
}

await main();
