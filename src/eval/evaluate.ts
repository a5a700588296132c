// Robustness evaluation: clean accuracy, robust accuracy per attack, per threat model and for the
// union (an example counts only if it survives every attack: the per-example AND, paper.md §1.6),
// with 95 % intervals, perturbation norms, accuracy-vs-ε curves, and the checks (report.ts).
//
// Attacks: a list (tokens or Attack objects), or a suite (suites.ts) over threat models. With
// `cascade` (the default for suites: AutoAttack's rule) each attack runs only on the points every
// earlier attack of its threat model left standing; without it each attack runs on every point
// the model classifies correctly.
// Data: NHWC images in [0, 1] (n·h·w·c floats) and int labels; the first `n` examples, or one
// shard of them (`shard`: the k-th of N slices of whole batches; shard.ts merges the parts into
// exactly the unsharded report). Order: batch by batch; within a batch the clean pass, then every
// attack. Per-example flags and norms are kept and, with `statePath`, written after every batch,
// so an interrupted evaluation resumes where it stopped. The state is keyed on the model, the
// data, every attack's name and resolved settings, n, batch, seed, cascade, shard and the package
// version: a state of any other evaluation is refused (EvalStateMismatch), never mixed (state.ts).
// The per-example checks (data, ball and box, input gradients) are checks.ts; the report and its
// table report.ts.
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';
import { runAttack, type Attack, type ThreatName } from '../attacks/attack.ts';
import { logitsAt, scoreLogits, type Classifier } from '../attacks/core.ts';
import { parseAttack, parseAttackAt, type TokenDefaults } from '../attacks/parse.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { ballTolerance, checkData, gradientHealth, insideRtBox, rowNorms } from './checks.ts';
import { buildReport, isGradientFree, type AttackInfo, type EvalReport, type Flags } from './report.ts';
import { evaluationKey, readState, type State } from './state.ts';
import { suiteTokens } from './suites.ts';

export { formatReport, VERSION, type AttackReport, type Check, type EvalReport, type NormStats } from './report.ts';
export { EvalStateMismatch } from './state.ts';

export interface EvalData {
  images: Float32Array;
  labels: Int32Array;
  /** Image shape (h, w, c). */
  height: number;
  width: number;
  channels: number;
}

/** The k-th (0-based) of `count` disjoint slices of the examples (whole batches each). */
export interface ShardSpec {
  index: number;
  count: number;
}

export interface EvalOptions {
  /** Attacks or their tokens (src/attacks/parse.ts); a list's tokens get distinct seeds by position. */
  attacks?: (Attack | string)[];
  /** A suite (suites.ts: standard, reference, quick) instead of `attacks`. */
  suite?: string;
  /** The suite's threat models (default linf:0.3, l2:2, l1:10, rt). */
  threats?: string[];
  /** Each attack only on the points earlier attacks of its threat model left standing (default: true with a suite). */
  cascade?: boolean;
  /** Evaluate the first n examples (default all). */
  n?: number;
  batch?: number;
  seed?: number;
  /** Defaults for tokens (steps, restarts): they reach only the kinds that declare them. */
  tokenDefaults?: TokenDefaults;
  /** Accuracy-vs-ε curves: multiples of each norm attack's ε (true: [0.25, 0.5, 1, 2, 4]). */
  curves?: boolean | number[];
  /** The checkpoint's path, recorded in the report. */
  checkpoint?: string | null;
  /** Per-example progress state: written after every batch; resumed from when it matches. */
  statePath?: string;
  /** One line per batch and attack, with an ETA (default: none). */
  log?: (line: string) => void;
  /** Metadata merged into report.meta. */
  meta?: Record<string, unknown>;
  /** Evaluate one slice of the examples only (a partial report for shard.ts's merge). */
  shard?: ShardSpec;
}

/** The partial report of a shard: the report of its slice, plus what merging needs. */
export interface ShardReport extends EvalReport {
  shard: { index: number; count: number; start: number; end: number; n: number; key: string; attacks: AttackInfo[]; flags: Flags };
}

const CURVE_MULTIPLES = [0.25, 0.5, 1, 2, 4];

/** The attacks of an evaluation: the suite's tokens, or the list (tokens seeded by position). */
export function resolveAttacks(opts: Pick<EvalOptions, 'attacks' | 'suite' | 'threats' | 'seed' | 'tokenDefaults'>): Attack[] {
  if (opts.suite && opts.attacks?.length) throw new RangeError('evaluate: give a suite or a list of attacks, not both');
  const defaults = { ...opts.tokenDefaults, seed: opts.seed ?? 0 };
  const list = opts.suite ? suiteTokens(opts.suite, opts.threats) : opts.attacks ?? [];
  return list.map((a, i) => (typeof a === 'string' ? parseAttackAt(a, i, defaults) : a));
}

/** The examples [start, end) of shard `s` of n examples: whole batches, as even as they fall. */
export function shardRange(n: number, batch: number, s?: ShardSpec): { start: number; end: number } {
  if (!s) return { start: 0, end: n };
  if (!(Number.isInteger(s.count) && s.count >= 1 && Number.isInteger(s.index) && s.index >= 0 && s.index < s.count)) throw new RangeError(`evaluate: shard must be K/N with 1 ≤ K ≤ N, got ${s.index + 1}/${s.count}`);
  const batches = Math.ceil(n / batch);
  if (s.count > batches) throw new RangeError(`evaluate: ${s.count} shards of ${n} examples in batches of ${batch}: at most ${batches} (one batch each)`);
  const at = (k: number) => Math.min(n, Math.floor((k * batches) / s.count) * batch);
  return { start: at(s.index), end: at(s.index + 1) };
}

const fmtTime = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`);

/**
 * Evaluates `model` on the first n examples of `data` (or a shard of them) under the attacks and
 * returns the report (report.ts; with `shard`, a ShardReport). Throws RangeError on bad input
 * (shapes, images outside [0, 1], tokens) and EvalStateMismatch on a state of another evaluation.
 */
export function evaluate(engine: Engine, model: Classifier, data: EvalData, opts: EvalOptions): EvalReport {
  const n = opts.n ?? data.labels.length;
  if (!Number.isInteger(n) || n < 1 || n > data.labels.length) throw new RangeError(`evaluate: n must be an integer in [1, ${data.labels.length}], got ${opts.n}`);
  const batch = opts.batch ?? 100;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`evaluate: batch must be an integer ≥ 1, got ${opts.batch}`);
  const seed = opts.seed ?? 0;
  const attacks = resolveAttacks(opts);
  if (!attacks.length) throw new RangeError('evaluate: no attacks given');
  const names = attacks.map((a) => a.name);
  if (new Set(names).size !== names.length) throw new RangeError(`evaluate: attack names repeat (${names.join(', ')}); give each attack once`);
  const cascade = opts.cascade ?? !!opts.suite;
  const { start, end } = shardRange(n, batch, opts.shard);
  if (opts.shard && opts.curves) throw new RangeError('evaluate: curves are not measured in a shard (run them unsharded)');
  checkData(data, n);
  const { height: h, width: w, channels: c } = data;
  const D = h * w * c;
  const log = opts.log ?? (() => {});
  const infos: AttackInfo[] = attacks.map((a) => ({ name: a.name, threat: a.threat, eps: a.eps, settings: a.settings() }));
  // The key of the whole evaluation (shards of one evaluation share it), then of this slice.
  const evalKey = evaluationKey({ n, batch, seed, cascade, attacks: infos, D }, model, data);
  const key = JSON.stringify({ evalKey, start, end });
  const empty = () => attacks.map(() => 0);
  let st: State = { key, done: 0, clean: [], robust: attacks.map(() => []), time: empty(), gradEvals: empty(), forwards: empty(), attacked: empty(), norms: attacks.map(() => []), box: empty(), grads: { zero: 0, nonFinite: 0, checked: 0 } };
  const saved = opts.statePath ? readState(opts.statePath, key) : null;
  if (saved) {
    st = saved;
    log(`resuming from ${opts.statePath}: ${st.done} of ${end - start} examples done`);
  }
  const t0 = performance.now();
  const resumedAt = st.done;
  for (let s = start + st.done; s < end; s += batch) {
    const B = Math.min(batch, end - s);
    engine.arena.scope(() => {
      const xs = data.images.subarray(s * D, (s + B) * D), ys = data.labels.subarray(s, s + B);
      const x0 = Tensor.from(engine, xs, [B, h, w, c]);
      const clean = Array.from(scoreLogits(engine.arena.scope(() => logitsAt(model, x0)), ys).wrong, (v) => 1 - v);
      if (!st.grads.checked) Object.assign(st.grads, gradientHealth(engine, model, xs, ys, [B, h, w, c]), { checked: B });
      st.clean.push(...clean);
      // Per threat model, the points still standing (cascade) in this batch.
      const standing = new Map<ThreatName, number[]>();
      attacks.forEach((atk, k) => {
        const alive = standing.get(atk.threat) ?? clean.slice();
        const rows = Int32Array.from({ length: B }, (_, i) => i).filter((i) => (cascade ? alive[i] : clean[i]) === 1);
        const robust = new Array<number>(B).fill(0);
        if (rows.length) {
          const ta = performance.now();
          engine.arena.scope(() => {
            const sub = Tensor.from(engine, gatherF32(xs, rows, D), [rows.length, h, w, c]);
            const out = runAttack(atk, { engine, model, x0: sub, y: Int32Array.from(rows, (r) => ys[r]), ids: Int32Array.from(rows, (r) => s + r) });
            const adv = out.adv.view(), src = sub.view();
            rows.forEach((r, i) => {
              robust[r] = 1 - out.wrong[i];
              const nr = rowNorms(adv, src, D, i);
              st.norms[k].push(...nr, out.wrong[i]);
              // The box check (NaN fails it too).
              for (let j = i * D; j < (i + 1) * D; j++) if (!(adv[j] >= 0 && adv[j] <= 1)) { st.box[k]++; break; }
              if (atk.eps !== null && atk.threat !== 'RT' && nr[atk.threat === 'L1' ? 0 : atk.threat === 'L2' ? 1 : 2] > atk.eps + ballTolerance(atk.threat, atk.eps, D)) st.box[k]++;
              if (atk.threat === 'RT' && !insideRtBox(atk as Attack & { px: number; deg: number }, out.aux.subarray(3 * i, 3 * i + 3))) st.box[k]++;
            });
            st.gradEvals[k] += out.gradEvals;
            st.forwards[k] += out.forwards;
          });
          st.time[k] += (performance.now() - ta) / 1000;
          st.attacked[k] += rows.length;
        }
        standing.set(atk.threat, alive.map((v, i) => v & robust[i]));
        st.robust[k].push(...robust);
        log(`  [${s + B - start}/${end - start}] ${atk.name}: robust ${robust.reduce((a, b) => a + b, 0)}/${B} (ran on ${rows.length}, ${st.time[k].toFixed(1)} s)`);
      });
    });
    st.done = s + B - start;
    if (opts.statePath) writeFileAtomic(opts.statePath, JSON.stringify(st));
    const elapsed = (performance.now() - t0) / 1000, doneNow = st.done - resumedAt, left = end - start - st.done;
    log(`[${st.done}/${end - start} examples] ${fmtTime(elapsed)} elapsed${left > 0 && doneNow > 0 ? `, ETA ${fmtTime((elapsed / doneNow) * left)}` : ''}`);
  }
  const curves = opts.curves ? computeCurves(engine, model, data, n, batch, attacks, opts.curves === true ? CURVE_MULTIPLES : opts.curves, { ...opts.tokenDefaults, seed }, log) : {};
  const count = end - start;
  const report = buildReport(st, infos, count, {
    cascade, suite: opts.suite ?? null, curves, checkpoint: opts.checkpoint ?? null,
    meta: { seed, batch, threads: engine.threads, build: engine.build, kernels: engine.isa, date: new Date().toISOString(), seconds: +((performance.now() - t0) / 1000).toFixed(2), ...(opts.threats && opts.suite ? { threats: opts.threats } : {}), ...opts.meta },
  });
  if (!opts.shard) return report;
  const { key: _k, done: _d, ...flags } = st;
  return { ...report, shard: { index: opts.shard.index, count: opts.shard.count, start, end, n, key: evalKey, attacks: infos, flags } } as ShardReport;
}

function gatherF32(xs: Float32Array, rows: Int32Array, D: number): Float32Array {
  const out = new Float32Array(rows.length * D);
  rows.forEach((r, i) => out.set(xs.subarray(r * D, (r + 1) * D), i * D));
  return out;
}

/** Whether curves are measured for an attack: a first-order norm attack (an ε; not RT, affine or gradient-free). */
export function hasCurve(atk: Attack): boolean {
  return atk.eps !== null && atk.threat !== 'RT' && atk.threat !== 'affine' && !isGradientFree(atk.name);
}

/** Robust accuracy of the first norm attack of each threat model at multiples of its ε. */
function computeCurves(engine: Engine, model: Classifier, data: EvalData, n: number, batch: number, attacks: Attack[], multiples: number[], defaults: TokenDefaults, log: (s: string) => void) {
  const curves: Record<string, { eps: number; robust_accuracy: number }[]> = {};
  for (const atk of attacks) {
    if (!hasCurve(atk) || curves[atk.threat]) continue;
    const points: { eps: number; robust_accuracy: number }[] = [];
    for (const m of multiples) {
      const eps = atk.eps! * m;
      const token = atk.name.replace(/^([a-z0-9-]+):[^:]+/, `$1:${eps}`);
      const sub = evaluate(engine, model, data, { attacks: [parseAttack(token, defaults)], n, batch, seed: defaults.seed });
      points.push({ eps, robust_accuracy: sub.union_accuracy });
      log(`  curve ${atk.threat} ε = ${eps}: ${(100 * sub.union_accuracy).toFixed(1)} %`);
    }
    curves[atk.threat] = points;
  }
  return curves;
}

