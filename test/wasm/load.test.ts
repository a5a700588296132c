import { spawnAsync } from '../_helpers/spawn.ts';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Engine } from '../../src/wasm/engine.ts';
import { KERNEL_NAMES, REDUCTION_KERNELS } from '../../src/wasm/exports.ts';
import { loadEngine, missingFeatures, supportsRelaxed } from '../../src/wasm/load.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('loadEngine', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('picks the SIMD kernels by default and the scalar twins on request', async () => {
    const simd = await loadEngine();
    const scalar = await loadEngine({ kernels: 'scalar' });
    expect(simd.isa).toBe('simd');
    expect(scalar.isa).toBe('scalar');
    expect(simd.kernel('f32_gemm')).toBe(simd.exports.f32_gemm__simd);
    expect(scalar.kernel('f32_gemm')).toBe(scalar.exports.f32_gemm__scalar);
    expect(simd.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('MULTIROBUST_KERNELS=scalar selects the scalar twins', async () => {
    vi.stubEnv('MULTIROBUST_KERNELS', 'scalar');
    expect((await loadEngine()).isa).toBe('scalar');
    vi.stubEnv('MULTIROBUST_KERNELS', 'avx');
    await expect(loadEngine()).rejects.toThrow(/kernels must be 'simd' or 'scalar' \(MULTIROBUST_KERNELS\), got 'avx'/);
  });

  it('every __simd export has a __scalar twin, and the table covers all of them', async () => {
    const engine = await loadEngine();
    const exported = Object.keys(engine.exports).filter((k) => /__(simd|scalar)$/.test(k));
    expect(exported.length).toBe(2 * engine.kernelNames().length);
    for (const name of engine.kernelNames()) {
      expect(typeof engine.exports[`${name}__simd`]).toBe('function');
      expect(typeof engine.exports[`${name}__scalar`]).toBe('function');
    }
    expect(() => Engine.kernelNames({ f32_x__simd: () => 0 })).toThrow(/f32_x__simd has no twin f32_x__scalar/);
    expect(() => engine.kernel('f32_nope')).toThrow(/unknown kernel 'f32_nope'/);
  });

  it('KERNEL_NAMES (the typed surface) lists exactly the module\'s kernels, with the right arity', async () => {
    const engine = await loadEngine({ threads: 1 });
    expect([...KERNEL_NAMES].sort()).toEqual(engine.kernelNames().slice().sort());
    // The loader wraps exports; the raw instance's functions carry the WASM parameter count.
    const raw = new WebAssembly.Instance(engine.module, { env: { memory: engine.memory, abort: () => {} } }).exports;
    for (const name of KERNEL_NAMES) {
      const arity = REDUCTION_KERNELS.includes(name) ? 5 : 4;
      expect((raw[`${name}__simd`] as Function).length, `${name}__simd arity`).toBe(arity);
      expect((raw[`${name}__scalar`] as Function).length, `${name}__scalar arity`).toBe(arity);
    }
  });

  it('builds: release and debug load; a bad build name is an error', async () => {
    expect((await loadEngine({ build: 'release' })).build).toBe('release');
    expect((await loadEngine({ build: 'debug' })).build).toBe('debug');
    await expect(loadEngine({ build: 'fast' as never })).rejects.toThrow(/build must be one of release, relaxed, debug/);
  });

  // Node 20 needs a V8 flag for relaxed SIMD; naming the build must set it in a fresh process too,
  // not only the default choice (which used to be the only path that set it).
  it.each([['build: relaxed', 'relaxed', {}], ['MULTIROBUST_BUILD=relaxed', 'env', { MULTIROBUST_BUILD: 'relaxed' }]])(
    '%s loads the relaxed build in a fresh process', async (_, arg, extraEnv) => {
      expect(await supportsRelaxed(), 'this runtime validates relaxed SIMD').toBe(true);
      const r = await spawnAsync(`${ROOT}node_modules/.bin/vite-node`, ['test/wasm/build_child.ts', arg], {
        cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, MULTIROBUST_BUILD: undefined, ...extraEnv },
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/build relaxed/);
    }, 60_000);

  it('bad memory options name the option', async () => {
    await expect(loadEngine({ initialMemoryMiB: 0 })).rejects.toThrow(/initialMemoryMiB must be an integer in \[1, 2048\]/);
    await expect(loadEngine({ initialMemoryMiB: 64, maximumMemoryMiB: 32 })).rejects.toThrow(/maximumMemoryMiB must be an integer in \[64, 2048\]/);
  });

  it('a runtime without WASM SIMD gets an error naming the missing feature', async () => {
    expect(missingFeatures()).toBeNull();
    vi.spyOn(WebAssembly, 'validate').mockReturnValue(false);
    expect(missingFeatures()).toMatch(/WebAssembly SIMD/);
    await expect(loadEngine({ build: 'release' })).rejects.toThrow(/lacks WebAssembly SIMD \(128-bit\)/);
  });

  it('a kernel precondition failure becomes a JS error naming the kernel (release and debug builds)', async () => {
    for (const build of ['release', 'debug'] as const) {
      const engine = await loadEngine({ build });
      const params = engine.arena.alloc(64);
      engine.arena.i32(params, 16).fill(0);
      engine.arena.i32(params, 1)[0] = 4; // M = 4
      expect(() => engine.kernel('f32_gemm')(params, 0, 5, 0)).toThrow(/f32_gemm: range outside \[0, M\)/);
    }
  });
});
