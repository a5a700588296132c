// Robustness evaluation: clean accuracy, robust accuracy per attack, per threat model and for the
// union (an example counts only if it survives every attack: the per-example AND, paper.md §1.6),
// perturbation norms, accuracy-vs-ε curves, and sanity checks that flag gradient masking.
//
// Data: NHWC images in [0, 1] (n·h·w·c floats) and int labels; the first `n` examples.
// Order: batch by batch; within a batch the clean pass, then every attack on the examples the
// model classifies correctly (a misclassified example is not robust to anything). Per-example
// flags and norms are kept, and with `statePath` written after every batch, so an interrupted
// evaluation resumes where it stopped (same model, data, attacks and seed: checked).
import { existsSync, readFileSync } from 'node:fs';
import { grad } from '../autograd.ts';
import { marginLoss, sum } from '../ops/index.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';
import { runAttack, type Attack, type ThreatName } from '../attacks/attack.ts';
import { logitsAt, scoreLogits, type Classifier } from '../attacks/core.ts';
import { parseAttack, type TokenDefaults } from '../attacks/parse.ts';
import { writeFileAtomic } from '../io/atomic.ts';

export interface EvalData {
  images: Float32Array;
  labels: Int32Array;
  /** Image shape (h, w, c). */
  height: number;
  width: number;
  channels: number;
}

export interface EvalOptions {
  /** Attacks or their tokens (src/attacks/parse.ts). */
  attacks: (Attack | string)[];
  /** Evaluate the first n examples (default all). */
  n?: number;
  batch?: number;
  seed?: number;
  /** Defaults for tokens (steps, restarts). */
  tokenDefaults?: TokenDefaults;
  /** Accuracy-vs-ε curves: multiples of each norm attack's ε (true: [0.25, 0.5, 1, 2, 4]). */
  curves?: boolean | number[];
  /** The checkpoint's path, recorded in the report. */
  checkpoint?: string | null;
  /** Per-example progress state: written after every batch; resumed from when it matches. */
  statePath?: string;
  /** One line per batch and attack (default: none). */
  log?: (line: string) => void;
  /** Metadata merged into report.meta. */
  meta?: Record<string, unknown>;
}

export interface NormStats {
  mean: number;
  max: number;
}

export interface AttackReport {
  name: string;
  threat: ThreatName;
  eps: number | null;
  robust_accuracy: number;
  time_s: number;
  grad_evals: number;
  forwards: number;
  /** Norms of the perturbations of the examples this attack fooled. */
  norms: { l1: NormStats; l2: NormStats; linf: NormStats };
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface EvalReport {
  n: number;
  clean_accuracy: number;
  attacks: AttackReport[];
  /** Union within each threat model (Linf, L2, L1, RT, affine) present. */
  threat_models: Record<string, number>;
  union_accuracy: number;
  curves: Record<string, { eps: number; robust_accuracy: number }[]>;
  checks: Check[];
  warnings: string[];
  checkpoint: string | null;
  meta: Record<string, unknown>;
  /** Per example: 1 = robust (clean row: correct). Kept for resuming and for tools. */
  per_example: { clean: number[]; attacks: Record<string, number[]> };
}

interface State {
  key: string;
  done: number;
  clean: number[];
  robust: number[][];
  time: number[];
  gradEvals: number[];
  forwards: number[];
  norms: number[][];
  box: number[];
}

const CURVE_MULTIPLES = [0.25, 0.5, 1, 2, 4];

/** Per-row (l1, l2, linf) norms of a − b over rows of D, in float64. */
function rowNorms(a: Float32Array, b: Float32Array, D: number, row: number): [number, number, number] {
  let l1 = 0, l2 = 0, li = 0;
  for (let j = row * D; j < (row + 1) * D; j++) {
    const d = Math.abs(a[j] - b[j]);
    l1 += d;
    l2 += d * d;
    li = Math.max(li, d);
  }
  return [l1, Math.sqrt(l2), li];
}

function checkData(data: EvalData, n: number): void {
  const D = data.height * data.width * data.channels;
  if (!(data.images instanceof Float32Array) || data.images.length < n * D) throw new RangeError(`evaluate: images hold ${data.images?.length} values, ${n} examples of ${data.height}×${data.width}×${data.channels} need ${n * D}`);
  if (!(data.labels instanceof Int32Array) || data.labels.length < n) throw new RangeError(`evaluate: labels must be an Int32Array of at least ${n} values`);
  for (let i = 0; i < n * D; i++) {
    const v = data.images[i];
    if (!(v >= 0 && v <= 1)) throw new RangeError(`evaluate: images must lie in [0, 1], got ${v} at index ${i} (example ${Math.floor(i / D)})`);
  }
}

/** Fraction of clean examples whose input gradient (margin loss) is all zero or not finite. */
function gradientHealth(engine: Engine, model: Classifier, x: Float32Array, y: Int32Array, shape: number[]): { zero: number; nonFinite: number } {
  return engine.arena.scope(() => {
    const xt = Tensor.from(engine, x, shape);
    const [g] = grad(() => sum(marginLoss(model.call(xt), y)), [xt]);
    const v = g.view(), B = shape[0], D = v.length / B;
    let zero = 0, nonFinite = 0;
    for (let i = 0; i < B; i++) {
      let any = false, bad = false;
      for (let j = i * D; j < (i + 1) * D; j++) {
        if (!Number.isFinite(v[j])) bad = true;
        else if (v[j] !== 0) any = true;
      }
      if (bad) nonFinite++;
      else if (!any) zero++;
    }
    return { zero, nonFinite };
  });
}

function stats(values: number[]): NormStats {
  if (!values.length) return { mean: 0, max: 0 };
  return { mean: values.reduce((a, b) => a + b, 0) / values.length, max: Math.max(...values) };
}

/** Tolerance of the in-ball check: f32 rounding of x0 + δ, summed over D coordinates for L1. */
function ballTolerance(threat: ThreatName, eps: number, D: number): number {
  const ulp = 6e-8;
  return 1e-6 * eps + (threat === 'L1' ? D * ulp : threat === 'L2' ? Math.sqrt(D) * ulp : ulp);
}

/**
 * Evaluates `model` on the first n examples of `data` under `opts.attacks` and returns the
 * report (see EvalReport). Throws RangeError on bad input (shapes, images outside [0, 1], tokens).
 */
export function evaluate(engine: Engine, model: Classifier, data: EvalData, opts: EvalOptions): EvalReport {
  const n = opts.n ?? data.labels.length;
  if (!Number.isInteger(n) || n < 1 || n > data.labels.length) throw new RangeError(`evaluate: n must be an integer in [1, ${data.labels.length}], got ${opts.n}`);
  const batch = opts.batch ?? 100;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`evaluate: batch must be an integer ≥ 1, got ${opts.batch}`);
  const seed = opts.seed ?? 0;
  const defaults = { seed, ...opts.tokenDefaults };
  const attacks = opts.attacks.map((a) => (typeof a === 'string' ? parseAttack(a, defaults) : a));
  if (!attacks.length) throw new RangeError('evaluate: no attacks given');
  const names = attacks.map((a) => a.name);
  if (new Set(names).size !== names.length) throw new RangeError(`evaluate: attack names repeat (${names.join(', ')}); give each attack once`);
  checkData(data, n);
  const { height: h, width: w, channels: c } = data;
  const D = h * w * c;
  const log = opts.log ?? (() => {});
  const key = JSON.stringify({ n, batch, seed, names, D, model: modelHash(model), data: dataHash(data, n * D) });
  let st: State = { key, done: 0, clean: [], robust: attacks.map(() => []), time: attacks.map(() => 0), gradEvals: attacks.map(() => 0), forwards: attacks.map(() => 0), norms: [], box: attacks.map(() => 0) };
  if (opts.statePath && existsSync(opts.statePath)) {
    let saved: State | null = null;
    try {
      saved = JSON.parse(readFileSync(opts.statePath, 'utf8')) as State;
    } catch {
      throw new RangeError(`evaluate: the state file ${opts.statePath} is not valid JSON (delete it to start over)`);
    }
    if (saved.key === key) {
      st = saved;
      log(`resuming from ${opts.statePath}: ${st.done} of ${n} examples done`);
    } else log(`state file ${opts.statePath} belongs to another evaluation: starting over`);
  }
  const t0 = performance.now();
  const grads = { zero: 0, nonFinite: 0, checked: 0 };
  for (let s = st.done; s < n; s += batch) {
    const B = Math.min(batch, n - s);
    engine.arena.scope(() => {
      const xs = data.images.subarray(s * D, (s + B) * D), ys = data.labels.subarray(s, s + B);
      const x0 = Tensor.from(engine, xs, [B, h, w, c]);
      const clean = scoreLogits(engine.arena.scope(() => logitsAt(model, x0)), ys).wrong.map((v) => 1 - v);
      if (!grads.checked) Object.assign(grads, gradientHealth(engine, model, xs, ys, [B, h, w, c]), { checked: B });
      const rows = Int32Array.from({ length: B }, (_, i) => i).filter((i) => clean[i] === 1);
      st.clean.push(...clean);
      const ids = Int32Array.from(rows, (r) => s + r);
      attacks.forEach((atk, k) => {
        const robust = new Array<number>(B).fill(0);
        const norms: number[] = [];
        if (rows.length) {
          const ta = performance.now();
          engine.arena.scope(() => {
            const sub = Tensor.from(engine, gatherF32(xs, rows, D), [rows.length, h, w, c]);
            const out = runAttack(atk, { engine, model, x0: sub, y: Int32Array.from(rows, (r) => ys[r]), ids });
            const adv = out.adv.view(), src = sub.view();
            rows.forEach((r, i) => {
              robust[r] = 1 - out.wrong[i];
              const nr = rowNorms(adv, src, D, i);
              norms.push(...nr, out.wrong[i]);
              // The box check (NaN fails it too).
              for (let j = i * D; j < (i + 1) * D; j++) if (!(adv[j] >= 0 && adv[j] <= 1)) { st.box[k]++; break; }
              if (atk.eps !== null && atk.threat !== 'RT' && nr[atk.threat === 'L1' ? 0 : atk.threat === 'L2' ? 1 : 2] > atk.eps + ballTolerance(atk.threat, atk.eps, D)) st.box[k]++;
              if (atk.threat === 'RT' && !insideRtBox(atk as Attack & { px: number; deg: number }, out.aux.subarray(3 * i, 3 * i + 3))) st.box[k]++;
            });
            st.gradEvals[k] += out.gradEvals;
            st.forwards[k] += out.forwards;
          });
          st.time[k] += (performance.now() - ta) / 1000;
        }
        st.robust[k].push(...robust);
        (st.norms[k] ??= []).push(...norms);
        log(`  [${s + B}/${n}] ${atk.name}: robust ${robust.reduce((a, b) => a + b, 0)}/${B}  (${st.time[k].toFixed(1)} s)`);
      });
    });
    st.done = s + B;
    if (opts.statePath) writeFileAtomic(opts.statePath, JSON.stringify(st));
  }
  const curves = opts.curves ? computeCurves(engine, model, data, n, batch, attacks, opts.curves === true ? CURVE_MULTIPLES : opts.curves, defaults, log) : {};
  return buildReport(st, attacks, n, D, curves, grads, opts, seed, (performance.now() - t0) / 1000, engine);
}

/** The RT parameters (θ radians, tx, ty) lie in the attack's box. */
function insideRtBox(atk: { px: number; deg: number }, p: Float32Array): boolean {
  const tol = 1e-6;
  return Math.abs(p[0]) <= (atk.deg * Math.PI) / 180 + tol && Math.abs(p[1]) <= atk.px + tol && Math.abs(p[2]) <= atk.px + tol;
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

function dataHash(data: EvalData, count: number): string {
  let h = 0x811c9dc5;
  const v = new Uint32Array(data.images.buffer, data.images.byteOffset, count);
  for (let i = 0; i < v.length; i++) h = Math.imul(h ^ v[i], 0x01000193);
  for (const l of data.labels.subarray(0, count / (data.height * data.width * data.channels))) h = Math.imul(h ^ l, 0x01000193);
  return (h >>> 0).toString(16);
}

function gatherF32(xs: Float32Array, rows: Int32Array, D: number): Float32Array {
  const out = new Float32Array(rows.length * D);
  rows.forEach((r, i) => out.set(xs.subarray(r * D, (r + 1) * D), i * D));
  return out;
}

/** Robust accuracy of the first norm attack of each threat model at multiples of its ε. */
function computeCurves(engine: Engine, model: Classifier, data: EvalData, n: number, batch: number, attacks: Attack[], multiples: number[], defaults: TokenDefaults, log: (s: string) => void) {
  const curves: Record<string, { eps: number; robust_accuracy: number }[]> = {};
  for (const atk of attacks) {
    if (atk.eps === null || atk.threat === 'RT' || atk.threat === 'affine' || curves[atk.threat] || /^(pointwise|boundary)/.test(atk.name)) continue;
    const points: { eps: number; robust_accuracy: number }[] = [];
    for (const m of multiples) {
      const eps = atk.eps * m;
      const token = atk.name.replace(/^([a-z0-9]+):[^:]+/, `$1:${eps}`);
      const sub = evaluate(engine, model, data, { attacks: [parseAttack(token, defaults)], n, batch, seed: defaults.seed });
      points.push({ eps, robust_accuracy: sub.union_accuracy });
      log(`  curve ${atk.threat} ε = ${eps}: ${(100 * sub.union_accuracy).toFixed(1)} %`);
    }
    curves[atk.threat] = points;
  }
  return curves;
}

const FIRST_ORDER = (a: Attack) => !/^(rt:|rt$|rtrandom|pointwise|boundary)/.test(a.name) || a.name.startsWith('rtpgd');

function buildReport(st: State, attacks: Attack[], n: number, D: number, curves: EvalReport['curves'], grads: { zero: number; nonFinite: number; checked: number }, opts: EvalOptions, seed: number, seconds: number, engine: Engine): EvalReport {
  const acc = (flags: number[]) => flags.reduce((a, b) => a + b, 0) / n;
  const reports: AttackReport[] = attacks.map((a, k) => {
    const nr = st.norms[k] ?? [];
    const found = { l1: [] as number[], l2: [] as number[], linf: [] as number[] };
    for (let i = 0; i < nr.length; i += 4) if (nr[i + 3] === 1) { found.l1.push(nr[i]); found.l2.push(nr[i + 1]); found.linf.push(nr[i + 2]); }
    return { name: a.name, threat: a.threat, eps: a.eps, robust_accuracy: acc(st.robust[k]), time_s: +st.time[k].toFixed(3), grad_evals: st.gradEvals[k], forwards: st.forwards[k], norms: { l1: stats(found.l1), l2: stats(found.l2), linf: stats(found.linf) } };
  });
  const and = (ks: number[]) => Array.from({ length: n }, (_, i) => (st.clean[i] === 1 && ks.every((k) => st.robust[k][i] === 1) ? 1 : 0));
  const threats: Record<string, number> = {};
  for (const t of [...new Set(attacks.map((a) => a.threat))]) threats[t] = acc(and(attacks.flatMap((a, k) => (a.threat === t ? [k] : []))));
  const union = acc(and(attacks.map((_, k) => k)));
  const checks: Check[] = [];
  const warnings: string[] = [];
  const bad = st.box.reduce((a, b) => a + b, 0);
  checks.push({ name: 'inside ball and box', ok: bad === 0, detail: bad === 0 ? 'every adversarial input lies in its ε-ball (RT: its transform box) and in [0, 1]' : `${bad} adversarial inputs outside their ball or the box` });
  // Gradient masking: a gradient-free or grid attack succeeds where every first-order attack of the same threat failed.
  for (const t of Object.keys(threats)) {
    const fo = attacks.flatMap((a, k) => (a.threat === t && FIRST_ORDER(a) ? [k] : []));
    const gf = attacks.flatMap((a, k) => (a.threat === t && !FIRST_ORDER(a) ? [k] : []));
    if (!fo.length || !gf.length) continue;
    let count = 0;
    for (let i = 0; i < n; i++) if (fo.every((k) => st.robust[k][i] === 1) && gf.some((k) => st.robust[k][i] === 0)) count++;
    const ok = count / n <= 0.02;
    checks.push({ name: `gradient masking (${t})`, ok, detail: `${count} of ${n} examples (${(100 * count / n).toFixed(1)} %) broken by ${gf.map((k) => attacks[k].name).join('/')} but not by ${fo.map((k) => attacks[k].name).join('/')}` });
    if (!ok) warnings.push(`gradient masking suspected (${t}): gradient-free or grid attacks broke ${(100 * count / n).toFixed(1)} % of examples that the first-order attacks did not; trust the union, not the first-order figures`);
  }
  for (const [t, pts] of Object.entries(curves)) {
    const last = pts[pts.length - 1];
    const rises = pts.some((p, i) => i > 0 && p.robust_accuracy > pts[i - 1].robust_accuracy + 0.02);
    const ok = !rises && last.robust_accuracy <= 0.1;
    checks.push({ name: `accuracy falls with ε (${t})`, ok, detail: pts.map((p) => `${+p.eps.toPrecision(4)}: ${(100 * p.robust_accuracy).toFixed(1)} %`).join(', ') });
    if (!ok) warnings.push(`gradient masking suspected (${t}): robust accuracy does not fall towards 0 as ε grows (${(100 * last.robust_accuracy).toFixed(1)} % at ε = ${last.eps})`);
  }
  const gradOk = grads.zero === 0 && grads.nonFinite === 0;
  checks.push({ name: 'input gradients', ok: gradOk, detail: grads.checked ? `${grads.zero} all-zero and ${grads.nonFinite} non-finite input gradients among the ${grads.checked} examples of the first batch run` : 'not measured (every batch was resumed from the state file)' });
  if (!gradOk) warnings.push(`gradient masking suspected: ${grads.zero} examples have an all-zero input gradient and ${grads.nonFinite} a NaN/Inf one`);
  return {
    n, clean_accuracy: acc(st.clean), attacks: reports, threat_models: threats, union_accuracy: union, curves, checks, warnings,
    checkpoint: opts.checkpoint ?? null,
    meta: { seed, batch: opts.batch ?? 100, threads: engine.threads, build: engine.build, kernels: engine.isa, version: VERSION, date: new Date().toISOString(), seconds: +seconds.toFixed(2), ...opts.meta },
    per_example: { clean: st.clean.slice(0, n), attacks: Object.fromEntries(attacks.map((a, k) => [a.name, st.robust[k].slice(0, n)])) },
  };
}

export const VERSION = '0.1.0';

const pct = (v: number) => `${(100 * v).toFixed(1)} %`.padStart(8);

/** The report as a plain-text table (MultiRobustness / AutoAttack style). */
export function formatReport(r: EvalReport): string {
  const lines = [`robustness on ${r.n} examples${r.checkpoint ? ` of ${r.checkpoint}` : ''} (seed ${r.meta.seed}, ${r.meta.threads} threads, build ${r.meta.build})`];
  lines.push('', `${'attack'.padEnd(28)} ${'threat'.padEnd(7)} ${'ε'.padStart(7)} ${'robust acc'.padStart(10)} ${'time'.padStart(9)} ${'grad evals'.padStart(11)}  mean norms of the perturbations found (l1 / l2 / linf)`);
  lines.push(`${'clean'.padEnd(28)} ${''.padEnd(7)} ${''.padStart(7)} ${pct(r.clean_accuracy).padStart(10)}`);
  for (const a of r.attacks) {
    const found = a.norms.l1.max > 0 ? `${a.norms.l1.mean.toFixed(2)} / ${a.norms.l2.mean.toFixed(3)} / ${a.norms.linf.mean.toFixed(3)}` : '-';
    lines.push(`${a.name.padEnd(28)} ${a.threat.padEnd(7)} ${(a.eps === null ? '' : String(+a.eps.toPrecision(4))).padStart(7)} ${pct(a.robust_accuracy).padStart(10)} ${`${a.time_s.toFixed(1)} s`.padStart(9)} ${String(a.grad_evals).padStart(11)}  ${found}`);
  }
  lines.push('', `per threat model: ${Object.entries(r.threat_models).map(([t, v]) => `${t} ${pct(v).trim()}`).join('   ')}`);
  lines.push(`union (all attacks): ${pct(r.union_accuracy).trim()}`);
  for (const [t, pts] of Object.entries(r.curves)) lines.push(`curve ${t}: ${pts.map((p) => `ε ${+p.eps.toPrecision(4)} → ${(100 * p.robust_accuracy).toFixed(1)} %`).join(', ')}`);
  lines.push('', 'checks:');
  for (const c of r.checks) lines.push(`  ${c.ok ? 'ok  ' : 'WARN'} ${c.name}: ${c.detail}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
