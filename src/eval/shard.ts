// Sharded evaluations (issue 26): `--shard K/N` evaluates the K-th of N disjoint slices of the
// examples (whole batches, so every batch is the one an unsharded run would form and every
// per-example result is bit-identical) and writes a partial report; mergeShards() combines the N
// parts into exactly the unsharded report (same per-example flags, figures, intervals and checks;
// times are summed). `auto/N` takes K from the job array's index: JOB_COMPLETION_INDEX (a
// Kubernetes Indexed Job, 0-based) or SLURM_ARRAY_TASK_ID (a Slurm job array; 0-based with
// `--array=0-(N−1)`). Parts from different models, data, attacks, settings, versions or counts
// are refused.
import { buildReport, type EvalReport, type Flags } from './report.ts';
import type { ShardReport, ShardSpec } from './evaluate.ts';

/** Parses 'K/N' (1-based K) or 'auto/N' (K from the job array's environment) into a 0-based shard. */
export function parseShard(spec: string, env: Record<string, string | undefined> = process.env): ShardSpec {
  const m = /^(\d+|auto)\/(\d+)$/.exec(spec.trim());
  if (!m) throw new RangeError(`--shard must be K/N (e.g. 2/8) or auto/N, got '${spec}'`);
  const count = Number(m[2]);
  if (!(count >= 1)) throw new RangeError(`--shard ${spec}: N must be ≥ 1`);
  if (m[1] !== 'auto') {
    const k = Number(m[1]);
    if (!(k >= 1 && k <= count)) throw new RangeError(`--shard ${spec}: K must be in [1, ${count}]`);
    return { index: k - 1, count };
  }
  const source = env.JOB_COMPLETION_INDEX !== undefined ? 'JOB_COMPLETION_INDEX' : env.SLURM_ARRAY_TASK_ID !== undefined ? 'SLURM_ARRAY_TASK_ID' : null;
  if (!source) throw new RangeError(`--shard ${spec}: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm job array) is set`);
  const raw = env[source]!;
  const index = Number(raw);
  if (!/^\d+$/.test(raw) || index >= count) throw new RangeError(`--shard ${spec}: ${source}=${raw} is not an index in [0, ${count})`);
  return { index, count };
}

function isShardReport(r: unknown): r is ShardReport {
  const s = (r as ShardReport | null)?.shard;
  return !!s && typeof s.key === 'string' && Number.isInteger(s.index) && Number.isInteger(s.count) && !!s.flags && Array.isArray(s.attacks);
}

/**
 * Merges the partial reports of every shard of one evaluation into its report. `names` label the
 * parts in error messages (file paths). Throws RangeError naming the problem.
 */
export function mergeShards(parts: unknown[], names: string[] = parts.map((_, i) => `part ${i + 1}`)): EvalReport {
  if (!parts.length) throw new RangeError('merge: give the partial reports of every shard');
  parts.forEach((p, i) => {
    if (!isShardReport(p)) throw new RangeError(`merge: ${names[i]} is not a partial report of a sharded evaluation (no shard section)`);
  });
  const shards = parts as ShardReport[];
  const first = shards[0].shard;
  shards.forEach((p, i) => {
    if (p.shard.key !== first.key) throw new RangeError(`merge: ${names[i]} comes from another evaluation than ${names[0]} (model, data, attacks, settings, n, batch, seed or version differ)`);
    if (p.shard.count !== first.count) throw new RangeError(`merge: ${names[i]} is a shard of ${p.shard.count}, ${names[0]} of ${first.count}`);
  });
  const byIndex = new Map<number, ShardReport>();
  shards.forEach((p, i) => {
    if (byIndex.has(p.shard.index)) throw new RangeError(`merge: shard ${p.shard.index + 1}/${first.count} given twice (${names[i]})`);
    byIndex.set(p.shard.index, p);
  });
  const missing = Array.from({ length: first.count }, (_, k) => k).filter((k) => !byIndex.has(k));
  if (missing.length) throw new RangeError(`merge: missing shard${missing.length > 1 ? 's' : ''} ${missing.map((k) => `${k + 1}/${first.count}`).join(', ')}`);
  const ordered = Array.from({ length: first.count }, (_, k) => byIndex.get(k)!);
  let at = 0;
  for (const p of ordered) {
    if (p.shard.start !== at) throw new RangeError(`merge: shard ${p.shard.index + 1}/${first.count} starts at example ${p.shard.start}, expected ${at}`);
    if (p.shard.flags.clean.length !== p.shard.end - p.shard.start) throw new RangeError(`merge: shard ${p.shard.index + 1}/${first.count} is incomplete (${p.shard.flags.clean.length} of ${p.shard.end - p.shard.start} examples)`);
    at = p.shard.end;
  }
  if (at !== first.n) throw new RangeError(`merge: the shards cover ${at} of ${first.n} examples`);
  const K = first.attacks.length;
  const sumK = (get: (f: Flags) => number[]) => Array.from({ length: K }, (_, k) => ordered.reduce((a, p) => a + get(p.shard.flags)[k], 0));
  const f: Flags = {
    clean: ordered.flatMap((p) => p.shard.flags.clean),
    robust: Array.from({ length: K }, (_, k) => ordered.flatMap((p) => p.shard.flags.robust[k])),
    time: sumK((x) => x.time), gradEvals: sumK((x) => x.gradEvals), forwards: sumK((x) => x.forwards), attacked: sumK((x) => x.attacked), box: sumK((x) => x.box),
    norms: Array.from({ length: K }, (_, k) => ordered.flatMap((p) => p.shard.flags.norms[k])),
    // The unsharded run measures the gradients on its first batch: shard 1's.
    grads: ordered[0].shard.flags.grads,
  };
  const meta = { ...ordered[0].meta, seconds: +ordered.reduce((a, p) => a + Number(p.meta.seconds ?? 0), 0).toFixed(2), merged_from: first.count };
  return buildReport(f, first.attacks, first.n, { cascade: ordered[0].cascade, suite: ordered[0].suite, curves: {}, checkpoint: ordered[0].checkpoint, meta });
}
