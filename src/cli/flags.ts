// Numeric command-line flags, parsed one way for every script and command: a value that is not a
// number, not finite, not an integer where one is needed, or out of range is a UsageError naming
// the flag and the value as given (the CLI prints it on one line and exits with code 2).
import { parseArgs } from 'node:util';
import { InputError } from '../errors.ts';

/** Bad input on the command line (flags): an InputError (src/errors.ts), so one line on stderr and exit code 2. */
export class UsageError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

// A decimal with optional sign, fraction and exponent: '3', '-0.5', '.5', '1e-3', '2.5E+4'.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseDecimal(s: string): number | undefined {
  const t = s.trim();
  return DECIMAL.test(t) ? Number(t) : undefined;
}

/** Parses a number or fraction string ("0.3", "8/255", "1e-3"); throws UsageError(`${what} must be a number …, got '${s}'`) otherwise. */
export function parseNumber(what: string, s: string): number {
  const parts = s.split('/');
  let n: number | undefined;
  if (parts.length === 1) n = parseDecimal(parts[0]);
  else if (parts.length === 2) {
    const num = parseDecimal(parts[0]);
    const den = parseDecimal(parts[1]);
    if (num !== undefined && den !== undefined && den !== 0) n = num / den;
  }
  if (n === undefined || !Number.isFinite(n)) {
    throw new UsageError(`${what} must be a number, got '${s}'`);
  }
  return n;
}

function checkBounds(what: string, n: number, s: string, opts: { min?: number; max?: number; gt?: number }): void {
  if (opts.gt !== undefined && !(n > opts.gt)) throw new UsageError(`${what} must be > ${opts.gt}, got '${s}'`);
  if (opts.min !== undefined && n < opts.min) throw new UsageError(`${what} must be ≥ ${opts.min}, got '${s}'`);
  if (opts.max !== undefined && n > opts.max) throw new UsageError(`${what} must be ≤ ${opts.max}, got '${s}'`);
}

/** undefined when value is undefined; else an integer within [min, max] or throws UsageError naming --name and the value. */
export function intFlag(name: string, value: string | undefined, opts: { min?: number; max?: number } = {}): number | undefined {
  if (value === undefined) return undefined;
  const what = `--${name}`;
  const n = parseDecimal(value);
  if (n === undefined || !Number.isSafeInteger(n)) throw new UsageError(`${what} must be an integer, got '${value}'`);
  checkBounds(what, n, value, opts);
  return n;
}

/** undefined when value is undefined; accepts decimals, exponents and fractions like "8/255"; finite; within bounds (min/max inclusive, gt = exclusive lower bound) or throws UsageError. */
export function numberFlag(name: string, value: string | undefined, opts: { min?: number; max?: number; gt?: number } = {}): number | undefined {
  if (value === undefined) return undefined;
  const what = `--${name}`;
  const n = parseNumber(what, value);
  checkBounds(what, n, value, opts);
  return n;
}

/** For scripts (bench, vite-node): returns parse()'s result; an InputError (UsageError included) prints `${prog}: message` on stderr and exits with code 2. */
export function parseOrExit<T>(prog: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    console.error(`${prog}: ${err.message}`);
    process.exit(2);
  }
}

/**
 * A command's flags (node:util parseArgs, strict, no positionals): the values, or null after printing
 * `help` for --help. A bad flag is a UsageError with parseArgs' first line.
 */
export function strictFlags(argv: string[], options: NonNullable<Parameters<typeof parseArgs>[0]>['options'], help: string): Record<string, string | boolean | undefined> | null {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }) as { values: Record<string, string | boolean | undefined> });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  if (values.help) {
    console.log(help);
    return null;
  }
  return values;
}
