// How an experiment file runs as a script (`npm run experiment:*`): its main() when this process
// was started on it, one line and exit 2 for a UsageError, the stack and exit 1 for anything else.
// vite-node drops the script's path from process.argv, so "started on it" also holds for any file
// run by vite-node: an experiment script must not be imported by another script (tests may: vitest
// is not vite-node).
import { parseArgs } from 'node:util';
import { UsageError } from '../cli/flags.ts';

export function runAsScript(file: RegExp, label: string, main: () => Promise<number>): void {
  const entry = process.argv[1] ?? '';
  if (!file.test(entry) && !/vite-node(\.mjs)?$/.test(entry)) return;
  main().then((code) => process.exit(code), (err) => {
    if (err instanceof UsageError) {
      console.error(`${label}: ${err.message}`);
      process.exit(2);
    }
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  });
}

/**
 * An experiment's flags (node:util parseArgs, strict): the values, or null after printing `help`
 * for --help. A bad flag is a UsageError with parseArgs' first line.
 */
export function scriptFlags(argv: string[], options: NonNullable<Parameters<typeof parseArgs>[0]>['options'], help: string): Record<string, string | boolean | undefined> | null {
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
