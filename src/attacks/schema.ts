// One option schema per attack kind (issue 26): the token's options, their types and real
// defaults, and which of the CLI's --steps / --restarts reach the kind. Each kind declares its
// schema beside its class (pgd.ts, apgd.ts, square.ts, …); parse.ts reads tokens with it, and
// `multirobust eval --help` prints it. A CLI default never overrides an attack's own default:
// --steps and --restarts set only the kinds whose option declares `cli`, and only when given.
import type { Attack } from './attack.ts';

export type OptionType =
  /** An integer (min/max bounds). */
  | 'int'
  /** A finite number, or a fraction such as 8/255. */
  | 'number'
  /** true/false/1/0. */
  | 'bool'
  /** One of `values`. */
  | 'enum'
  /** A percentile (number) or a range lo-hi (SLIDE's perc). */
  | 'percentile'
  /** AxBxC (the RT grid). */
  | 'grid'
  /** A number or 'random' (the affine weight). */
  | 'beta';

export interface OptionSpec {
  /** Token spelling (lower case, e.g. 'queries'). */
  key: string;
  /** The constructor option it sets (e.g. 'maxQueries'); default: key. */
  field?: string;
  type: OptionType;
  values?: readonly string[];
  min?: number;
  max?: number;
  /** The real default, as --help prints it (e.g. '100', '2.5·ε/steps', 'none'). */
  default: string;
  help: string;
  /** The CLI flag that sets this option when the token does not (--steps, --restarts). */
  cli?: 'steps' | 'restarts';
}

export interface KindSpec {
  /** The token's first part (e.g. 'apgd-linf'). */
  kind: string;
  /** One line for --help. */
  summary: string;
  /** What follows the kind: a budget (kind:EPS) or the RT box (kind or kind:PX:DEG). */
  positional: 'eps' | 'rt';
  options: readonly OptionSpec[];
  /** Builds the attack from parsed options (eps or px/deg included) and the token (its name). */
  build(opts: Record<string, unknown>, token: string): Attack;
}

/** A seed option (every randomised kind takes one). */
export const SEED_OPTION: OptionSpec = { key: 'seed', type: 'int', min: 0, default: "the evaluation's seed mixed with the token's position", help: 'seed of the random draws' };

/** Steps / restarts declared for the CLI flags. */
export function stepsOption(def: string, help = 'iterations per run'): OptionSpec {
  return { key: 'steps', type: 'int', min: 0, default: def, help, cli: 'steps' };
}
export function restartsOption(def: string, help = 'runs from new random starts; the worst case per example is kept'): OptionSpec {
  return { key: 'restarts', type: 'int', min: 1, default: def, help, cli: 'restarts' };
}

/** Effective settings of an attack, as printed in the report and hashed into the resume key. */
export type Settings = Record<string, string | number | boolean>;

/** "steps 100, restarts 1, loss ce" from a settings record (a stable key order). */
export function formatSettings(s: Settings): string {
  return Object.entries(s).map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? +v.toPrecision(6) : v}`).join(', ');
}
