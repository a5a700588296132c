// The evaluation report from per-example flags (src/eval/evaluate.ts collects them; shard.ts merges
// partial ones): clean accuracy, robust accuracy per attack, per threat model and for the union
// (an example counts only if it survives every attack: the per-example AND, paper.md §1.6), each
// with a 95 % Wilson score interval; how many points each attack alone broke; the attacks'
// effective settings; and the checks: every point inside its ball and box, gradient masking
// (AutoAttack's rule), accuracy falling with ε, healthy input gradients.
//
// Flags: robust[k][i] = 1 when example i survived attack k. In a cascade (suites) an attack runs
// only on the points every earlier attack of its threat model left standing, so its flags are
// cumulative (0 for a point broken earlier); without a cascade each attack runs on every clean
// point and its flags are its own. In both, "broke" counts the points attack k broke that no
// earlier attack of its threat model had broken.
import type { ThreatName } from '../attacks/attack.ts';
import { VERSION } from '../version.ts';
import { formatSettings, type Settings } from '../attacks/schema.ts';
import { pct } from '../report/format.ts';

/** The package version (package.json), part of every resume key and report. */
export { VERSION };

export interface NormStats {
  mean: number;
  max: number;
}

/** A 95 % confidence interval [lo, hi] for an accuracy. */
export type Interval = [number, number];

export interface AttackReport {
  name: string;
  threat: ThreatName;
  eps: number | null;
  /** The attack's effective settings (steps, restarts, queries, loss, step rule, seed). */
  settings: Settings;
  /** Robust accuracy after this attack (in a cascade: after it and every earlier one of its threat model). */
  robust_accuracy: number;
  interval: Interval;
  /** Points it ran on. */
  attacked: number;
  /** Points it broke that no earlier attack of its threat model had broken. */
  broke: number;
  time_s: number;
  grad_evals: number;
  forwards: number;
  /** Norms of the perturbations of the examples this attack fooled. */
  norms: { l1: NormStats; l2: NormStats; linf: NormStats };
}

export interface Check {
  name: string;
  ok: boolean;
  /** False when the check could not run (it then says why); such a check is not a pass. */
  ran?: boolean;
  detail: string;
}

export interface EvalReport {
  n: number;
  clean_accuracy: number;
  clean_interval: Interval;
  attacks: AttackReport[];
  /** Union within each threat model (Linf, L2, L1, RT, affine) present. */
  threat_models: Record<string, number>;
  threat_intervals: Record<string, Interval>;
  union_accuracy: number;
  union_interval: Interval;
  /** 'wilson': 95 % Wilson score intervals. */
  interval_method: 'wilson';
  /** True when each attack ran only on the points earlier attacks of its threat model left standing. */
  cascade: boolean;
  /** The suite whose attacks ran, if any. */
  suite: string | null;
  curves: Record<string, { eps: number; robust_accuracy: number }[]>;
  checks: Check[];
  warnings: string[];
  checkpoint: string | null;
  meta: Record<string, unknown>;
  /** Per example: 1 = robust (clean row: correct). Kept for resuming, merging and for tools. */
  per_example: { clean: number[]; attacks: Record<string, number[]> };
}

/** What the report needs of an attack. */
export interface AttackInfo {
  name: string;
  threat: ThreatName;
  eps: number | null;
  settings: Settings;
}

/** Per-example results of an evaluation (or of a shard of it), in example order. */
export interface Flags {
  clean: number[];
  robust: number[][];
  time: number[];
  gradEvals: number[];
  forwards: number[];
  attacked: number[];
  /** Per attack, 4 numbers per example it ran on: l1, l2, linf norms of the perturbation, fooled (0/1). */
  norms: number[][];
  /** Per attack, points outside their ball or the box. */
  box: number[];
  grads: { zero: number; nonFinite: number; checked: number };
}

const Z95 = 1.959963984540054;

/** The 95 % Wilson score interval of k successes in n trials. */
export function wilson(k: number, n: number): Interval {
  if (n === 0) return [0, 1];
  const p = k / n, z2 = Z95 * Z95;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (Z95 * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/**
 * What an attack spent, in its own unit: input-gradient evaluations for first-order attacks; model
 * queries (forward passes) for score-, decision-based and grid attacks, whose grad_evals is 0.
 */
export function attackCost(a: Pick<AttackReport, 'name' | 'grad_evals' | 'forwards'>): string {
  return isGradientFree(a.name) ? `${a.forwards} queries` : `${a.grad_evals} grad evals`;
}

/** Score- or decision-based and grid attacks (no gradient): what the masking check compares with. */
export function isGradientFree(name: string): boolean {
  return /^(square-|pointwise|boundary|rtrandom|rt:|rt$)/.test(name);
}

function stats(values: number[]): NormStats {
  if (!values.length) return { mean: 0, max: 0 };
  return { mean: values.reduce((a, b) => a + b, 0) / values.length, max: Math.max(...values) };
}

/** Per attack k, a 0/1 list: example i was broken by attack k while every earlier attack of its threat model had left it standing. */
export function brokenBy(f: Flags, attacks: AttackInfo[], n: number): number[][] {
  return attacks.map((a, k) => {
    const earlier = attacks.flatMap((b, j) => (j < k && b.threat === a.threat ? [j] : []));
    return Array.from({ length: n }, (_, i) => (f.clean[i] === 1 && f.robust[k][i] === 0 && earlier.every((j) => f.robust[j][i] === 1) ? 1 : 0));
  });
}

/** The report from per-example flags. */
export function buildReport(f: Flags, attacks: AttackInfo[], n: number, opts: { cascade: boolean; suite: string | null; curves: EvalReport['curves']; checkpoint: string | null; meta: Record<string, unknown> }): EvalReport {
  const count = (flags: number[]) => flags.reduce((a, b) => a + b, 0);
  const broken = brokenBy(f, attacks, n);
  const reports: AttackReport[] = attacks.map((a, k) => {
    const nr = f.norms[k] ?? [];
    const found = { l1: [] as number[], l2: [] as number[], linf: [] as number[] };
    for (let i = 0; i < nr.length; i += 4) if (nr[i + 3] === 1) { found.l1.push(nr[i]); found.l2.push(nr[i + 1]); found.linf.push(nr[i + 2]); }
    const robust = count(f.robust[k]);
    return {
      name: a.name, threat: a.threat, eps: a.eps, settings: a.settings, robust_accuracy: robust / n, interval: wilson(robust, n), attacked: f.attacked[k], broke: count(broken[k]),
      time_s: +f.time[k].toFixed(3), grad_evals: f.gradEvals[k], forwards: f.forwards[k], norms: { l1: stats(found.l1), l2: stats(found.l2), linf: stats(found.linf) },
    };
  });
  const and = (ks: number[]) => Array.from({ length: n }, (_, i) => (f.clean[i] === 1 && ks.every((k) => f.robust[k][i] === 1) ? 1 : 0));
  const threats: Record<string, number> = {}, threatIntervals: Record<string, Interval> = {};
  for (const t of [...new Set(attacks.map((a) => a.threat))]) {
    const k = count(and(attacks.flatMap((a, j) => (a.threat === t ? [j] : []))));
    threats[t] = k / n;
    threatIntervals[t] = wilson(k, n);
  }
  const unionCount = count(and(attacks.map((_, k) => k)));
  const { checks, warnings } = buildChecks(f, attacks, n, broken, opts.cascade, opts.curves);
  return {
    n, clean_accuracy: count(f.clean) / n, clean_interval: wilson(count(f.clean), n), attacks: reports, threat_models: threats, threat_intervals: threatIntervals,
    union_accuracy: unionCount / n, union_interval: wilson(unionCount, n), interval_method: 'wilson', cascade: opts.cascade, suite: opts.suite,
    curves: opts.curves, checks, warnings, checkpoint: opts.checkpoint, meta: { version: VERSION, ...opts.meta },
    per_example: { clean: f.clean.slice(0, n), attacks: Object.fromEntries(attacks.map((a, k) => [a.name, f.robust[k].slice(0, n)])) },
  };
}

/** AutoAttack's threshold: a gradient-free attack lowering accuracy by more than 0.2 points. */
const MASKING_THRESHOLD = 0.002;

function buildChecks(f: Flags, attacks: AttackInfo[], n: number, broken: number[][], cascade: boolean, curves: EvalReport['curves']) {
  const checks: Check[] = [];
  const warnings: string[] = [];
  const bad = f.box.reduce((a, b) => a + b, 0);
  checks.push({ name: 'inside ball and box', ok: bad === 0, detail: bad === 0 ? 'every adversarial input lies in its ε-ball (RT: its transform box) and in [0, 1]' : `${bad} adversarial inputs outside their ball or the box` });
  // Gradient masking (AutoAttack's check): a score-, decision-based or grid attack breaks points
  // that every first-order attack of the same threat model left standing.
  for (const t of [...new Set(attacks.map((a) => a.threat))]) {
    const ks = attacks.flatMap((a, k) => (a.threat === t ? [k] : []));
    const fo = ks.filter((k) => !isGradientFree(attacks[k].name));
    const gf = ks.filter((k) => isGradientFree(attacks[k].name));
    const name = `gradient masking (${t})`;
    if (!gf.length || !fo.length) {
      const why = !gf.length ? 'no score- or decision-based attack of this threat model ran' : 'no first-order attack of this threat model ran';
      checks.push({ name, ok: true, ran: false, detail: `not run (${why})` });
      continue;
    }
    // In a cascade an attack sees only the points earlier ones left standing: only gradient-free
    // attacks that come after a first-order one can show masking.
    const judged = cascade ? gf.filter((g) => fo.some((k) => k < g)) : gf;
    if (!judged.length) {
      checks.push({ name, ok: true, ran: false, detail: 'not run (the gradient-free attacks ran before every first-order one)' });
      continue;
    }
    let cnt = 0;
    for (let i = 0; i < n; i++) {
      const gfBroke = cascade ? judged.some((g) => broken[g][i] === 1) : judged.some((g) => f.clean[i] === 1 && f.robust[g][i] === 0);
      const foStanding = cascade ? true : fo.every((k) => f.robust[k][i] === 1);
      if (gfBroke && foStanding) cnt++;
    }
    const ok = cnt / n <= MASKING_THRESHOLD;
    const names = (list: number[]) => list.map((k) => attacks[k].name).join('/');
    checks.push({ name, ok, detail: `${cnt} of ${n} examples (${pct(cnt / n)}) broken by ${names(judged)} but not by ${names(fo)} (threshold 0.2 %)` });
    if (!ok) warnings.push(`gradient masking suspected (${t}): gradient-free attacks broke ${pct(cnt / n)} of the examples that every first-order attack left standing; trust the figure with every attack, not the first-order ones`);
  }
  for (const [t, pts] of Object.entries(curves)) {
    const last = pts[pts.length - 1];
    const rises = pts.some((p, i) => i > 0 && p.robust_accuracy > pts[i - 1].robust_accuracy + 0.02);
    const ok = !rises && last.robust_accuracy <= 0.1;
    checks.push({ name: `accuracy falls with ε (${t})`, ok, detail: pts.map((p) => `${+p.eps.toPrecision(4)}: ${pct(p.robust_accuracy)}`).join(', ') });
    if (!ok) warnings.push(`gradient masking suspected (${t}): robust accuracy does not fall towards 0 as ε grows (${pct(last.robust_accuracy)} at ε = ${last.eps})`);
  }
  const g = f.grads;
  const gradOk = g.zero === 0 && g.nonFinite === 0;
  checks.push({ name: 'input gradients', ok: gradOk, detail: g.checked ? `${g.zero} all-zero and ${g.nonFinite} non-finite input gradients among the ${g.checked} examples of the first batch run` : 'not measured (every batch was resumed from the state file)' });
  if (!gradOk) warnings.push(`gradient masking suspected: ${g.zero} examples have an all-zero input gradient and ${g.nonFinite} a NaN/Inf one`);
  return { checks, warnings };
}

const ci = (iv: Interval) => `[${(100 * iv[0]).toFixed(1)}, ${(100 * iv[1]).toFixed(1)}]`;

/** "49.2 % [44.8, 53.6]": an accuracy with its 95 % interval. */
export function withInterval(v: number, iv: Interval): string {
  return `${pct(v)} ${ci(iv)}`;
}

/** The threat models whose attacks are all first-order (their figures may overstate robustness). */
export function firstOrderOnly(r: EvalReport): string[] {
  return Object.keys(r.threat_models).filter((t) => r.attacks.filter((a) => a.threat === t).every((a) => !isGradientFree(a.name)));
}

/** The report as a plain-text table (AutoAttack style: each attack's settings, what it broke, intervals). */
export function formatReport(r: EvalReport): string {
  const how = r.suite ? `suite ${r.suite}` : 'attack list';
  const lines = [`robustness on ${r.n} examples${r.checkpoint ? ` of ${r.checkpoint}` : ''} (${how}${r.cascade ? ', each attack on the points earlier attacks of its threat model left standing' : ''}; seed ${r.meta.seed}, ${r.meta.threads} threads, build ${r.meta.build})`];
  lines.push(`accuracies with 95 % Wilson intervals (n = ${r.n})`);
  lines.push('', `${'attack'.padEnd(34)} ${'threat'.padEnd(7)} ${'ε'.padStart(6)} ${'robust acc [95 % CI]'.padStart(22)} ${'broke'.padStart(6)} ${'time'.padStart(8)} ${'cost'.padStart(16)}  settings`);
  lines.push(`${'clean'.padEnd(34)} ${''.padEnd(7)} ${''.padStart(6)} ${withInterval(r.clean_accuracy, r.clean_interval).padStart(22)}`);
  for (const a of r.attacks) {
    lines.push(`${a.name.padEnd(34)} ${a.threat.padEnd(7)} ${(a.eps === null ? '' : String(+a.eps.toPrecision(4))).padStart(6)} ${withInterval(a.robust_accuracy, a.interval).padStart(22)} ${String(a.broke).padStart(6)} ${`${a.time_s.toFixed(1)} s`.padStart(8)} ${attackCost(a).padStart(16)}  ${formatSettings(a.settings)}`);
  }
  lines.push('', 'per threat model:');
  for (const [t, v] of Object.entries(r.threat_models)) lines.push(`  ${t.padEnd(7)} ${withInterval(v, r.threat_intervals[t])}   (${r.attacks.filter((a) => a.threat === t).map((a) => a.name).join(', ')})`);
  const fo = firstOrderOnly(r);
  lines.push(`union (all attacks): ${withInterval(r.union_accuracy, r.union_interval)}${fo.length ? `   (first-order attacks only for ${fo.join(', ')}: may overstate robustness there)` : ''}`);
  for (const [t, pts] of Object.entries(r.curves)) lines.push(`curve ${t}: ${pts.map((p) => `ε ${+p.eps.toPrecision(4)} → ${pct(p.robust_accuracy)}`).join(', ')}`);
  lines.push('', 'checks:');
  for (const c of r.checks) lines.push(`  ${c.ran === false ? 'n/a ' : c.ok ? 'ok  ' : 'WARN'} ${c.name}: ${c.detail}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
