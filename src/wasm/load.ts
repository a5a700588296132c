// Finds, checks and instantiates the kernel module, and builds the engine around it.
//
// One module file per build (asconfig.json targets): `multirobust.wasm` (SIMD128 + threads),
// `multirobust.relaxed.wasm` (adds relaxed-SIMD fused multiply-add; the default where the runtime
// validates it: Deno, Node ≥ 22, and Node 20 once its V8 flag is set, see enableRelaxedOnNode) and
// `multirobust.debug.wasm` (asserts and debug info). Every build holds both the __simd kernels
// and their __scalar twins; the kernel table picks one of each pair once, here.
// The module is read from the package's own files (node:fs for file: URLs, fetch otherwise), and
// instantiated with @assemblyscript/loader on one shared WebAssembly.Memory.
import { instantiate } from '@assemblyscript/loader';
import { Engine, type EngineExports } from './engine.ts';
import { defaultThreads } from './pool.ts';

export type KernelIsa = 'simd' | 'scalar';
export type BuildName = 'release' | 'relaxed' | 'debug';

export interface EngineOptions {
  /** Kernel variants: 'simd' (default) or the readable 'scalar' twins. Env: MULTIROBUST_KERNELS. */
  kernels?: KernelIsa;
  /** Module build: default 'relaxed' when the runtime supports it, else 'release'. Env: MULTIROBUST_BUILD. */
  build?: BuildName;
  /** Memory reserved up front, MiB (default 64). */
  initialMemoryMiB?: number;
  /** Growth limit, MiB (default 2048, the module's maximum; 1024 in a browser, where large shared memories fail on some engines, e.g. Safari's). */
  maximumMemoryMiB?: number;
  /**
   * Threads per kernel call, the calling thread included: 1 = no workers at all.
   * Env: MULTIROBUST_THREADS. Default: os.availableParallelism() capped by the container's CPU
   * quota (cgroup cpu.max; pool.ts defaultThreads), or navigator.hardwareConcurrency in a browser.
   */
  threads?: number;
  /**
   * How long a waiting thread (a worker between calls, the caller waiting for the workers) spins
   * before it sleeps, ms; 0 = sleep at once (an idle service then uses no CPU). Env:
   * MULTIROBUST_SPIN_MS. Default 0.5 (pool.ts SPIN_MS), 0 when threads exceed the default count.
   */
  spinMs?: number;
  /** Calls estimated below this many flops run on the calling thread (default MIN_PARALLEL_COST). */
  minParallelCost?: number;
  /**
   * Convolution algorithm: 'auto' (default: Winograd F(2×2, 5×5) for 5×5 stride-1 convolutions
   * with ≥ 8 channels, implicit GEMM otherwise), 'gemm' (implicit GEMM only) or 'winograd'
   * (wherever it applies, implicit GEMM elsewhere). Env: MULTIROBUST_CONV.
   */
  convAlgorithm?: 'auto' | 'gemm' | 'winograd';
}

const MAX_THREADS = 256;

const MODULE_MAX_MIB = 2048;
/** The default growth limit in browsers: a modest shared memory (Safari fails on large or growing ones). */
const BROWSER_MAX_MIB = 1024;

/** Neither Node nor Deno: a browser (or another web-style runtime). */
function inBrowser(): boolean {
  const g = globalThis as { process?: { versions?: { node?: string } }; Deno?: unknown };
  return typeof g.process?.versions?.node !== 'string' && g.Deno === undefined;
}
const FILES: Record<BuildName, string> = {
  release: 'multirobust.wasm',
  relaxed: 'multirobust.relaxed.wasm',
  debug: 'multirobust.debug.wasm',
};

// (module (func (result v128) i32.const 0 i8x16.splat))
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 8, 1, 6, 0, 65, 0, 253, 15, 11]);

const compiled = new Map<BuildName, Promise<WebAssembly.Module>>();

function env(name: string): string | undefined {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  return g.process?.env?.[name];
}

/** Reads a file next to this package: node:fs for file: URLs (Node's fetch rejects them), fetch otherwise. */
async function readPackageFile(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    try {
      const buf = await readFile(url);
      return new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      throw new Error(`multirobust: cannot read the kernel module ${url.pathname} (run \`npm run build\`): ${(err as Error).message}`);
    }
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`multirobust: cannot fetch the kernel module ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

export function moduleUrl(build: BuildName): URL {
  return new URL(`../../build/${FILES[build]}`, import.meta.url);
}

/** Explains which WebAssembly feature this runtime lacks, or returns null when all are present. */
export function missingFeatures(): string | null {
  const missing: string[] = [];
  if (typeof WebAssembly !== 'object') return 'WebAssembly itself';
  if (!WebAssembly.validate(SIMD_PROBE)) missing.push('WebAssembly SIMD (128-bit)');
  // Not the SharedArrayBuffer global: a browser page that is not cross-origin isolated hides it but
  // still creates shared memories (the engine then runs on one thread; pool.ts).
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    missing.push('shared WebAssembly.Memory (the module is built for threads)');
  }
  return missing.length ? missing.join(', ') : null;
}

async function compileBuild(build: BuildName): Promise<WebAssembly.Module> {
  let promise = compiled.get(build);
  if (!promise) {
    promise = readPackageFile(moduleUrl(build)).then((bytes) => {
      if (!WebAssembly.validate(bytes)) {
        const missing = missingFeatures();
        throw new Error(
          missing
            ? `multirobust: this JavaScript runtime lacks ${missing}, which the kernels need (Node ≥ 20 and Deno ≥ 1.30 have them)`
            : `multirobust: ${FILES[build]} does not validate on this runtime${build === 'relaxed' ? ' (relaxed SIMD unsupported)' : ''}`,
        );
      }
      return WebAssembly.compile(bytes);
    });
    compiled.set(build, promise);
    promise.catch(() => compiled.delete(build));
  }
  return promise;
}

let relaxedSupport: Promise<boolean> | null = null;

/** True when this runtime validates the relaxed-SIMD build (checked once per process). */
export function supportsRelaxed(): Promise<boolean> {
  relaxedSupport ??= checkRelaxed();
  return relaxedSupport;
}

async function checkRelaxed(): Promise<boolean> {
  try {
    const bytes = await readPackageFile(moduleUrl('relaxed'));
    if (WebAssembly.validate(bytes)) return true;
    if (!(await enableRelaxedOnNode())) return false;
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/**
 * Node 20 (V8 11.3) has relaxed SIMD behind a V8 flag. The flag is process-wide and read when a
 * module is validated or compiled, so setting it through node:v8 before compiling enables the
 * relaxed build here and in every worker (measured: GEMM 512³ 31 → 43 GFLOP/s, bench:kernels).
 * Returns whether it tried. Not done in Deno, which ships relaxed SIMD.
 */
async function enableRelaxedOnNode(): Promise<boolean> {
  const g = globalThis as { Deno?: unknown; process?: { versions?: { node?: string } } };
  if (g.Deno !== undefined || !g.process?.versions?.node) return false;
  try {
    const v8 = await import('node:v8');
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    return true;
  } catch {
    return false;
  }
}

function checkMiB(name: string, value: number, lo: number, hi: number): number {
  if (!Number.isInteger(value) || value < lo || value > hi) {
    throw new RangeError(`loadEngine: ${name} must be an integer in [${lo}, ${hi}] MiB, got ${value}`);
  }
  return value;
}

/** Loads the kernel module and returns a new engine with its own memory. */
export async function loadEngine(options: EngineOptions = {}): Promise<Engine> {
  const kernels = options.kernels ?? (env('MULTIROBUST_KERNELS') as KernelIsa | undefined) ?? 'simd';
  if (kernels !== 'simd' && kernels !== 'scalar') {
    throw new RangeError(`loadEngine: kernels must be 'simd' or 'scalar' (MULTIROBUST_KERNELS), got '${kernels}'`);
  }
  let build = options.build ?? (env('MULTIROBUST_BUILD') as BuildName | undefined);
  if (build !== undefined && !(build in FILES)) {
    throw new RangeError(`loadEngine: build must be one of ${Object.keys(FILES).join(', ')} (MULTIROBUST_BUILD), got '${build}'`);
  }
  const missing = missingFeatures();
  if (missing) throw new Error(`multirobust: this JavaScript runtime lacks ${missing}, which the kernels need (Node ≥ 20 and Deno ≥ 1.30 have them)`);
  if (build === undefined) build = (await supportsRelaxed()) ? 'relaxed' : 'release';
  // Named or chosen, the relaxed build needs Node 20's V8 flag, which supportsRelaxed() sets.
  else if (build === 'relaxed' && !(await supportsRelaxed())) {
    throw new Error('multirobust: the relaxed build (MULTIROBUST_BUILD=relaxed) needs relaxed SIMD, which this runtime does not validate; use the release build');
  }
  const initialMiB = checkMiB('initialMemoryMiB', options.initialMemoryMiB ?? 64, 1, MODULE_MAX_MIB);
  const maximumMiB = checkMiB('maximumMemoryMiB', options.maximumMemoryMiB ?? (inBrowser() ? BROWSER_MAX_MIB : MODULE_MAX_MIB), initialMiB, MODULE_MAX_MIB);

  const threadsEnv = env('MULTIROBUST_THREADS');
  const threads = options.threads ?? (threadsEnv !== undefined && threadsEnv !== '' ? Number(threadsEnv) : await defaultThreads());
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`loadEngine: threads must be an integer in [1, ${MAX_THREADS}] (MULTIROBUST_THREADS), got ${options.threads ?? threadsEnv}`);
  }
  const spinEnv = env('MULTIROBUST_SPIN_MS');
  const spinMs = options.spinMs ?? (spinEnv !== undefined && spinEnv !== '' ? Number(spinEnv) : undefined);
  if (spinMs !== undefined && !(Number.isFinite(spinMs) && spinMs >= 0)) {
    throw new RangeError(`loadEngine: spinMs must be a number ≥ 0 (MULTIROBUST_SPIN_MS), got '${options.spinMs ?? spinEnv}'`);
  }
  const minParallelCost = options.minParallelCost;
  if (minParallelCost !== undefined && !(minParallelCost >= 0)) {
    throw new RangeError(`loadEngine: minParallelCost must be a number ≥ 0, got ${minParallelCost}`);
  }

  const convAlgorithm = options.convAlgorithm ?? (env('MULTIROBUST_CONV') as EngineOptions['convAlgorithm']) ?? 'auto';
  if (!['auto', 'gemm', 'winograd'].includes(convAlgorithm)) {
    throw new RangeError(`loadEngine: convAlgorithm must be 'auto', 'gemm' or 'winograd' (MULTIROBUST_CONV), got '${convAlgorithm}'`);
  }

  const module = await compileBuild(build);
  const memory = new WebAssembly.Memory({ initial: initialMiB * 16, maximum: maximumMiB * 16, shared: true });
  const { exports } = await instantiate<EngineExports>(module, { env: { memory } });
  const engine = new Engine({ module, memory, exports: exports as unknown as EngineExports, kernels, build, limitBytes: maximumMiB * 2 ** 20 });
  if (minParallelCost !== undefined) engine.minParallelCost = minParallelCost;
  engine.convAlgorithm = convAlgorithm;
  await engine.startThreads(threads, spinMs);
  return engine;
}

let defaultEngine: Promise<Engine> | null = null;

/** The process-wide engine with default options (created on first use). */
export function getEngine(): Promise<Engine> {
  defaultEngine ??= loadEngine();
  return defaultEngine;
}

/** Runs `work` on a freshly loaded engine and closes the engine afterwards, whatever happens. */
export async function withEngine<T>(options: EngineOptions, work: (engine: Engine) => T | Promise<T>): Promise<T> {
  const engine = await loadEngine(options);
  try {
    return await work(engine);
  } finally {
    await engine.close();
  }
}
