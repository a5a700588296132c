// Attack tokens (the `multirobust eval --attacks` contract, issue 16; schemas, issue 26):
//   linf:EPS  l2:EPS  l1:EPS (SLIDE)  apgd-linf:EPS  apgd-l2:EPS  apgd-l1:EPS (= l1apgd:EPS)
//   apgdt-linf:EPS  apgdt-l2:EPS  apgdt-l1:EPS  square-linf:EPS  square-l2:EPS  square-l1:EPS
//   pointwise:EPS  boundary:EPS  rt (= rt:3:30, the 775-transform grid)  rt:PX:DEG
//   rtrandom:PX:DEG  rtpgd:PX:DEG  affine(A+B[+…])   e.g. affine(linf:0.3+l1:10)
// Options follow as :key=value, e.g. apgd-linf:0.3:steps=50, l1:10:perc=80-99,
// rt:3:30:grid=5x5x31, affine(linf:0.3+l1:10):beta=0.5. A list is comma-separated (commas inside
// parentheses belong to the affine token). EPS may be a fraction: linf:8/255.
// Each kind's options, types and real defaults are its KindSpec (schema.ts), declared beside its
// class; the defaults a caller passes (the CLI's --steps, --restarts) reach only the options that
// declare them, and only when the token does not set them. A list's tokens get distinct seeds:
// token i of a list draws from mixSeed(seed, i) unless it sets seed=.
// Every mistake (unknown kind or option, bad number, negative ε) is a RangeError naming the token.
import type { Attack } from './attack.ts';
import { parseEps } from './attack.ts';
import { Affine } from './affine.ts';
import { APGD_KINDS } from './apgd.ts';
import { mixSeed } from './core.ts';
import { DECISION_KINDS } from './decision_attacks.ts';
import { L1APGD_KINDS } from './l1apgd.ts';
import { PGD_KINDS } from './pgd.ts';
import { restartsOption, SEED_OPTION, stepsOption, type KindSpec, type OptionSpec } from './schema.ts';
import { RT_KINDS } from './spatial.ts';
import { SQUARE_KINDS } from './square.ts';

/** Defaults a token does not set itself (the CLI's --steps, --restarts, --seed). */
export interface TokenDefaults {
  steps?: number;
  restarts?: number;
  seed?: number;
}

/** The affine mix (its parts are tokens of the PGD family or RT). */
export const AFFINE_KIND: Omit<KindSpec, 'build'> = {
  kind: 'affine', summary: 'affine mix of two or more attacks: affine(A+B), weights β and 1 − β (or random per example)', positional: 'eps',
  options: [
    { key: 'beta', type: 'beta', default: 'random', help: "weight of the first part, or 'random' (uniform on the simplex per example)" },
    stepsOption("the first part's steps"),
    restartsOption('1'),
    { key: 'loss', type: 'enum', values: ['margin', 'ce'], default: 'margin', help: 'loss the steps ascend' },
    SEED_OPTION,
  ],
};

/** Every token kind, in the order --help lists them. */
export const KINDS: readonly KindSpec[] = [...PGD_KINDS, ...APGD_KINDS, ...L1APGD_KINDS, ...SQUARE_KINDS, ...DECISION_KINDS, ...RT_KINDS];

const BY_KIND = new Map(KINDS.map((k) => [k.kind, k]));

/** An affine token affine(A+B[+…])[:key=value…]: its parts (trimmed) and its options (':beta=0.5…', or ''); null for any other token. */
export function splitAffine(token: string): { parts: string[]; options: string } | null {
  const m = /^affine\((.*)\)((?::[^:]+)*)$/.exec(token.trim());
  return m ? { parts: m[1].split('+').map((s) => s.trim()), options: m[2] } : null;
}

/** Splits a comma-separated list at the top level (not inside parentheses). */
export function splitTokens(list: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = '';
  for (const ch of list) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new RangeError(`attack list '${list}': unbalanced ')'`);
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (depth !== 0) throw new RangeError(`attack list '${list}': unbalanced '('`);
  out.push(cur.trim());
  if (out.some((t) => t === '')) throw new RangeError(`attack list '${list}': empty token`);
  return out;
}

/** One option value, read by its spec's type. */
function optionValue(token: string, spec: OptionSpec, value: string): unknown {
  const what = `attack '${token}': ${spec.key}`;
  switch (spec.type) {
    case 'int':
    case 'number': {
      const v = parseEps(value, what);
      if (spec.type === 'int' && !Number.isInteger(v)) throw new RangeError(`${what} must be an integer, got '${value}'`);
      if (spec.min !== undefined && v < spec.min) throw new RangeError(`${what} must be ≥ ${spec.min}, got '${value}'`);
      if (spec.max !== undefined && v > spec.max) throw new RangeError(`${what} must be ≤ ${spec.max}, got '${value}'`);
      return v;
    }
    case 'bool':
      if (!['0', '1', 'true', 'false'].includes(value)) throw new RangeError(`${what} must be true or false, got '${value}'`);
      return value === '1' || value === 'true';
    case 'enum':
      if (!spec.values!.includes(value)) throw new RangeError(`${what} must be ${spec.values!.join(' or ')}, got '${value}'`);
      return value;
    case 'percentile': {
      const r = /^([0-9.]+)-([0-9.]+)$/.exec(value);
      return r ? [parseEps(r[1], what), parseEps(r[2], what)] : parseEps(value, what);
    }
    case 'grid': {
      const g = /^(\d+)x(\d+)x(\d+)$/.exec(value);
      if (!g) throw new RangeError(`${what} must look like 5x5x31, got '${value}'`);
      return [Number(g[1]), Number(g[2]), Number(g[3])];
    }
    case 'beta':
      return value === 'random' ? 'random' : parseEps(value, what);
  }
}

/** The token's key=value options by the kind's schema, then the caller's defaults where declared. */
function readOptions(token: string, spec: Omit<KindSpec, 'build'>, parts: string[], defaults: TokenDefaults): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const p of parts) {
    const m = /^([a-z]+)=(.+)$/.exec(p);
    if (!m) throw new RangeError(`attack '${token}': expected an option key=value, got '${p}'`);
    const opt = spec.options.find((s) => s.key === m[1]);
    if (!opt) throw new RangeError(`attack '${token}': unknown option '${m[1]}' (${spec.kind} takes ${spec.options.map((s) => s.key).join(', ') || 'none'})`);
    o[opt.field ?? opt.key] = optionValue(token, opt, m[2]);
  }
  for (const opt of spec.options) {
    const field = opt.field ?? opt.key;
    if (o[field] !== undefined) continue;
    if (opt.cli && defaults[opt.cli] !== undefined) o[field] = defaults[opt.cli];
    if (opt.key === 'seed') o.seed = defaults.seed ?? 0;
  }
  return o;
}

/** Builds the attack a token names (see the header); `defaults` fill the options it leaves out where its kind declares them. */
export function parseAttack(token: string, defaults: TokenDefaults = {}): Attack {
  const t = token.trim();
  const affine = splitAffine(t);
  if (affine) {
    if (affine.parts.length < 2) throw new RangeError(`attack '${t}': affine needs at least two attacks joined by '+'`);
    const opts = readOptions(t, AFFINE_KIND, affine.options.split(':').filter(Boolean), defaults);
    const parts = affine.parts.map((s) => parseAttack(s, { ...defaults, restarts: 1 }));
    return new Affine(parts, opts as ConstructorParameters<typeof Affine>[1], t);
  }
  const [kind, ...rest] = t.split(':');
  const spec = BY_KIND.get(kind);
  if (!spec) throw new RangeError(`unknown attack '${t}' (kinds: ${[...BY_KIND.keys()].join(', ')}, affine(…))`);
  const firstOption = rest.findIndex((p) => p.includes('='));
  if (firstOption >= 0 && rest.slice(firstOption).some((p) => !p.includes('='))) throw new RangeError(`attack '${t}': options (key=value) must come after the budget`);
  const positional = rest.filter((p) => !p.includes('='));
  const opts = readOptions(t, spec, rest.filter((p) => p.includes('=')), defaults);
  if (spec.positional === 'rt') {
    if (positional.length !== 0 && positional.length !== 2) throw new RangeError(`attack '${t}': expected ${kind} or ${kind}:PX:DEG`);
    const [px, deg] = positional.length ? positional.map((v, i) => parseEps(v, `attack '${t}': ${i ? 'degrees' : 'pixels'}`)) : [3, 30];
    return spec.build({ ...opts, px, deg }, t);
  }
  if (positional.length !== 1) throw new RangeError(`attack '${t}': expected ${kind}:EPS`);
  return spec.build({ ...opts, eps: parseEps(positional[0], `attack '${t}': eps`) }, t);
}

/** Token number `position` of a list: its random draws come from mixSeed(seed, position) unless it sets its own seed. */
export function parseAttackAt(token: string, position: number, defaults: TokenDefaults = {}): Attack {
  return parseAttack(token, { ...defaults, seed: mixSeed(defaults.seed ?? 0, position) });
}

/** Parses a comma-separated list of tokens, each seeded by its position (parseAttackAt). */
export function parseAttacks(list: string | string[], defaults: TokenDefaults = {}): Attack[] {
  const tokens = typeof list === 'string' ? splitTokens(list) : list;
  return tokens.map((t, i) => parseAttackAt(t, i, defaults));
}

/** Every kind's options with their real defaults, for --help. */
export function kindsHelp(): string {
  const lines: string[] = [];
  for (const k of [...KINDS, AFFINE_KIND]) {
    const form = k.kind === 'affine' ? 'affine(A+B[+…])' : k.positional === 'rt' ? `${k.kind}[:PX:DEG]` : `${k.kind}:EPS`;
    lines.push(`  ${form.padEnd(18)} ${k.summary}`);
    for (const o of k.options) {
      const flag = o.cli ? ` (--${o.cli} sets it)` : '';
      const type = o.type === 'enum' ? o.values!.join('|') : o.type;
      lines.push(`      ${`${o.key}=${type}`.padEnd(28)} ${o.help}; default ${o.default}${flag}`);
    }
  }
  return lines.join('\n');
}
