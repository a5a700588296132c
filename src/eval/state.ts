// An evaluation's resume state (evaluate.ts): the per-example flags and norms so far (report.ts
// Flags) plus the examples done, written after every batch as JSON. The state is keyed on
// everything that determines the result: the package version, n, batch, seed, cascade, every
// attack's name and resolved settings, the image size D, the model's parameter bits and the data's
// bits (FNV-1a hashes), and the slice [start, end) of a shard. A state with another key is refused
// (EvalStateMismatch), never mixed in.
import { existsSync, readFileSync } from 'node:fs';
import type { Classifier } from '../attacks/core.ts';
import type { Tensor } from '../tensor.ts';
import type { EvalData } from './evaluate.ts';
import { VERSION, type AttackInfo, type Flags } from './report.ts';

/** A state file written by another evaluation (other model, data, attacks, settings or version). */
export class EvalStateMismatch extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'EvalStateMismatch';
  }
}

export interface State extends Flags {
  key: string;
  /** Examples of the slice done. */
  done: number;
}

/** The key of a whole evaluation (the shards of one evaluation share it). */
export function evaluationKey(parts: { n: number; batch: number; seed: number; cascade: boolean; attacks: AttackInfo[]; D: number }, model: Classifier, data: EvalData): string {
  return JSON.stringify({ version: VERSION, ...parts, model: modelHash(model), data: dataHash(data, parts.n * parts.D) });
}

/** The saved state at `path` when it exists (null otherwise); EvalStateMismatch when it is not JSON or belongs to another key. */
export function readState(path: string, key: string): State | null {
  if (!existsSync(path)) return null;
  let saved: State | null = null;
  try {
    saved = JSON.parse(readFileSync(path, 'utf8')) as State;
  } catch {
    throw new EvalStateMismatch(`evaluate: the state file ${path} is not valid JSON (delete it to start over)`);
  }
  if (saved.key !== key) throw new EvalStateMismatch(`evaluate: the state file ${path} belongs to another evaluation (other model, data, attacks, settings, shard or version): delete it or give another state path`);
  return saved;
}

/** FNV-1a over the bits of the model's parameters (a Module), so a resumed run is the same model. */
function modelHash(model: Classifier): string {
  const params = (model as { parameters?: () => Tensor[] }).parameters?.() ?? [];
  let h = 0x811c9dc5;
  for (const p of params) {
    const v = new Uint32Array(p.toArray().buffer);
    for (let i = 0; i < v.length; i++) h = Math.imul(h ^ v[i], 0x01000193);
  }
  return `${params.length}:${(h >>> 0).toString(16)}`;
}

/** FNV-1a over the bits of the first `count` image values and their labels. */
function dataHash(data: EvalData, count: number): string {
  let h = 0x811c9dc5;
  const v = new Uint32Array(data.images.buffer, data.images.byteOffset, count);
  for (let i = 0; i < v.length; i++) h = Math.imul(h ^ v[i], 0x01000193);
  for (const l of data.labels.subarray(0, count / (data.height * data.width * data.channels))) h = Math.imul(h ^ l, 0x01000193);
  return (h >>> 0).toString(16);
}
