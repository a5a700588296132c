// Shared engines for tests: one per kernel variant, loaded once per test file.
import { loadEngine, type Engine, type KernelIsa, type BuildName } from '../../src/index.ts';
import type { F32Buf } from '../../src/wasm/memory.ts';

const engines = new Map<string, Promise<Engine>>();

export function engineFor(kernels: KernelIsa, build?: BuildName): Promise<Engine> {
  const key = `${kernels}/${build ?? 'default'}`;
  let e = engines.get(key);
  if (!e) {
    e = loadEngine({ kernels, build });
    engines.set(key, e);
  }
  return e;
}

/**
 * The builds every numeric reference test runs its SIMD kernels on: the default (relaxed SIMD
 * where the runtime has it) and the plain-SIMD release build, whose kernels differ (no FMA).
 */
export const SIMD_BUILDS = ['default', 'release'] as const;

/** The SIMD engine of one of SIMD_BUILDS; throws when the runtime gave another build. */
export async function simdEngine(build: (typeof SIMD_BUILDS)[number]): Promise<Engine> {
  const engine = await engineFor('simd', build === 'default' ? undefined : build);
  if (build === 'release' && engine.build !== 'release') throw new Error(`asked for the release build, got ${engine.build}`);
  return engine;
}

export const GUARD = 1234.5;
const GUARD_FLOATS = 8;

/** An output buffer of `n` floats followed by guard values, filled with `fill` (default NaN). */
export function guarded(engine: Engine, n: number, fill = NaN): F32Buf {
  const raw = engine.arena.allocF32(n + GUARD_FLOATS);
  const v = engine.view(raw);
  v.fill(fill, 0, n);
  v.fill(GUARD, n);
  return { ptr: raw.ptr, length: n };
}

/** Throws when a guard value after a `guarded` buffer was overwritten. */
export function checkGuards(engine: Engine, buf: F32Buf, label = 'output'): void {
  const g = engine.arena.f32(buf.ptr + buf.length * 4, GUARD_FLOATS);
  for (let i = 0; i < GUARD_FLOATS; i++) {
    if (g[i] !== GUARD) throw new Error(`${label}: guard value ${i} after the buffer was overwritten (${g[i]})`);
  }
}

/** A guarded buffer initialised with data. */
export function guardedFrom(engine: Engine, data: ArrayLike<number>): F32Buf {
  const b = guarded(engine, data.length);
  engine.view(b).set(data);
  return b;
}
