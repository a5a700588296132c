// Attack tokens (the `multirobust eval --attacks` contract, issue 16):
//   linf:EPS  l2:EPS  l1:EPS (SLIDE)  l1apgd:EPS  pointwise:EPS  boundary:EPS
//   rt (= rt:3:30, the 775-transform grid)  rt:PX:DEG  rtrandom:PX:DEG  rtpgd:PX:DEG
//   affine(A+B[+…])   e.g. affine(linf:0.3+l1:10), options after the parenthesis
// Options follow as :key=value, e.g. linf:0.3:steps=40:restarts=5, l1:10:perc=80-99,
// rt:3:30:grid=5x5x31, affine(linf:0.3+l1:10):beta=0.5. A list is comma-separated (commas inside
// parentheses belong to the affine token). EPS may be a fraction: linf:8/255.
// Every mistake (unknown kind or option, bad number, negative ε) is a RangeError naming the token.
import type { Attack } from './attack.ts';
import { parseEps } from './attack.ts';
import { Affine } from './affine.ts';
import { Boundary, Pointwise } from './decision_attacks.ts';
import { L1APGD } from './l1apgd.ts';
import { L2PGD, LinfPGD, SLIDE } from './pgd.ts';
import { RTGrid, RTPGD, RTRandom } from './spatial.ts';

/** Defaults a token does not set itself (the CLI's --steps, --restarts, --seed). */
export interface TokenDefaults {
  steps?: number;
  restarts?: number;
  seed?: number;
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

const NUM_OPTS: Record<string, string> = { steps: 'steps', restarts: 'restarts', seed: 'seed', stepsize: 'stepSize', relstep: 'relStepSize', tries: 'tries', batch: 'batch', topk: 'topk', beta: 'beta', queries: 'maxQueries', candidates: 'candidates', targets: 'targets' };
const INT_OPTS = new Set(['steps', 'restarts', 'seed', 'tries', 'batch', 'maxQueries', 'candidates', 'targets']);

/** Options each kind accepts (token spelling). */
const ALLOWED: Record<string, string[]> = {
  linf: ['steps', 'restarts', 'seed', 'stepsize', 'relstep', 'randomstart', 'loss', 'schedule'],
  l2: ['steps', 'restarts', 'seed', 'stepsize', 'relstep', 'randomstart', 'loss', 'schedule'],
  l1: ['steps', 'restarts', 'seed', 'stepsize', 'relstep', 'randomstart', 'loss', 'schedule', 'perc', 'projection'],
  l1apgd: ['steps', 'restarts', 'seed', 'stepsize', 'relstep', 'randomstart', 'loss', 'topk', 'largereps', 'targets'],
  rt: ['grid', 'batch'],
  rtrandom: ['tries', 'restarts', 'seed', 'batch'],
  rtpgd: ['steps', 'restarts', 'seed', 'relstep', 'loss'],
  pointwise: ['seed', 'queries', 'batch'],
  boundary: ['seed', 'steps', 'candidates', 'batch'],
  affine: ['beta', 'steps', 'restarts', 'seed', 'loss'],
};

function parseOptions(token: string, kind: string, parts: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const p of parts) {
    const m = /^([a-z]+)=(.+)$/.exec(p);
    if (!m) throw new RangeError(`attack '${token}': expected an option key=value, got '${p}'`);
    const [, key, value] = m;
    if (!ALLOWED[kind].includes(key)) throw new RangeError(`attack '${token}': unknown option '${key}' (${kind} takes ${ALLOWED[kind].join(', ')})`);
    if (key in NUM_OPTS) {
      const name = NUM_OPTS[key];
      const v = key === 'beta' && value === 'random' ? 'random' : parseEps(value, `attack '${token}': ${key}`);
      if (typeof v === 'number' && INT_OPTS.has(name) && !Number.isInteger(v)) throw new RangeError(`attack '${token}': ${key} must be an integer, got '${value}'`);
      o[name] = v;
    } else if (key === 'randomstart' || key === 'largereps') {
      if (!['0', '1', 'true', 'false'].includes(value)) throw new RangeError(`attack '${token}': ${key} must be true or false, got '${value}'`);
      o[key === 'randomstart' ? 'randomStart' : 'largeReps'] = value === '1' || value === 'true';
    } else if (key === 'schedule') {
      if (value !== 'constant' && value !== 'cosine') throw new RangeError(`attack '${token}': schedule must be constant or cosine, got '${value}'`);
      o.schedule = value;
    } else if (key === 'loss') {
      if (value !== 'margin' && value !== 'ce') throw new RangeError(`attack '${token}': loss must be margin or ce, got '${value}'`);
      o.loss = value;
    } else if (key === 'perc') {
      const r = /^([0-9.]+)-([0-9.]+)$/.exec(value);
      o.perc = r ? [parseEps(r[1], `attack '${token}': perc`), parseEps(r[2], `attack '${token}': perc`)] : parseEps(value, `attack '${token}': perc`);
    } else if (key === 'projection') {
      if (value !== 'exact' && value !== 'l1-then-clip') throw new RangeError(`attack '${token}': projection must be exact or l1-then-clip, got '${value}'`);
      o.projection = value;
    } else if (key === 'grid') {
      const g = /^(\d+)x(\d+)x(\d+)$/.exec(value);
      if (!g) throw new RangeError(`attack '${token}': grid must look like 5x5x31, got '${value}'`);
      o.grid = [Number(g[1]), Number(g[2]), Number(g[3])];
    }
  }
  return o;
}

/** Builds the attack a token names (see the header); `defaults` fill steps/restarts/seed the token leaves out. */
export function parseAttack(token: string, defaults: TokenDefaults = {}): Attack {
  const t = token.trim();
  const base = { ...(defaults.steps !== undefined ? { steps: defaults.steps } : {}), ...(defaults.restarts !== undefined ? { restarts: defaults.restarts } : {}), seed: defaults.seed ?? 0 };
  const affine = /^affine\((.*)\)((?::[^:]+)*)$/.exec(t);
  if (affine) {
    const inner = affine[1].split('+').map((s) => s.trim());
    if (inner.length < 2) throw new RangeError(`attack '${t}': affine needs at least two attacks joined by '+'`);
    const opts = parseOptions(t, 'affine', affine[2].split(':').filter(Boolean));
    const parts = inner.map((s) => parseAttack(s, { ...defaults, restarts: 1 }));
    return new Affine(parts, { ...base, ...opts } as ConstructorParameters<typeof Affine>[1], t);
  }
  const [kind, ...rest] = t.split(':');
  if (!(kind in ALLOWED) || kind === 'affine') throw new RangeError(`unknown attack '${t}' (kinds: linf, l2, l1, l1apgd, rt, rtrandom, rtpgd, pointwise, boundary, affine(…))`);
  const positional = rest.filter((p) => !p.includes('='));
  const options = rest.filter((p) => p.includes('='));
  if (rest.findIndex((p) => p.includes('=')) >= 0 && rest.slice(rest.findIndex((p) => p.includes('='))).some((p) => !p.includes('='))) {
    throw new RangeError(`attack '${t}': options (key=value) must come after the budget`);
  }
  const opts = { ...base, ...parseOptions(t, kind, options) };
  if (kind.startsWith('rt')) {
    if (positional.length !== 0 && positional.length !== 2) throw new RangeError(`attack '${t}': expected ${kind} or ${kind}:PX:DEG`);
    const [px, deg] = positional.length ? positional.map((v, i) => parseEps(v, `attack '${t}': ${i ? 'degrees' : 'pixels'}`)) : [3, 30];
    if (kind === 'rt') return new RTGrid({ px, deg, ...(opts as object) }, t);
    if (kind === 'rtrandom') return new RTRandom({ px, deg, ...(opts as object) }, t);
    return new RTPGD({ px, deg, ...(opts as object) }, t);
  }
  if (positional.length !== 1) throw new RangeError(`attack '${t}': expected ${kind}:EPS`);
  const eps = parseEps(positional[0], `attack '${t}': eps`);
  const o = { ...opts, eps } as Record<string, unknown> & { eps: number };
  switch (kind) {
    case 'linf': return new LinfPGD(o, t);
    case 'l2': return new L2PGD(o, t);
    case 'l1': return new SLIDE(o, t);
    case 'l1apgd': return new L1APGD(o, t);
    case 'pointwise': return new Pointwise(o, t);
    default: return new Boundary(o, t);
  }
}

/** Parses a comma-separated list of tokens. */
export function parseAttacks(list: string, defaults: TokenDefaults = {}): Attack[] {
  return splitTokens(list).map((t) => parseAttack(t, defaults));
}
