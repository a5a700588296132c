// Shared bench helpers: seeded data, validation report, markdown table.
import type { Task } from 'tinybench';

export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = seeded(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/** Max |a − b| / (1 + max |b|): throws above `tol`, so nothing is timed on a wrong result. */
export function validate(label: string, got: Float32Array, want: Float32Array, tol = 1e-4): number {
  if (got.length !== want.length) throw new Error(`${label}: length ${got.length} != ${want.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  const rel = diff / (1 + scale);
  if (!(rel <= tol)) throw new Error(`${label}: validation failed, max relative difference ${rel} > ${tol}`);
  return rel;
}

/** Median latency of a finished tinybench task, in milliseconds. */
export function medianMs(task: Task | undefined): number {
  const r = task?.result as { latency?: { p50?: number }; state?: string } | undefined;
  const p50 = r?.latency?.p50;
  if (p50 === undefined) throw new Error(`task ${task?.name} has no result (${r?.state ?? 'not run'})`);
  return p50;
}

export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

/**
 * A tinybench timestamp provider reading the process's CPU time (user + system, µs resolution).
 * For single-threaded benches on a shared machine: time spent descheduled while other processes
 * run does not count against the code being measured. Do not use it for multi-threaded timing.
 */
export const cpuTimeProvider = {
  name: 'process-cpu-time',
  fn: () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  },
  toMs: (v: number | bigint) => Number(v),
  fromMs: (v: number) => v,
};
