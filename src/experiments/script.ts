// How an experiment file runs as a script (`npm run experiment:*`): its main() when this process
// was started on it, one line and exit 2 for a UsageError, the stack and exit 1 for anything else.
// vite-node drops the script's path from process.argv, so "started on it" also holds for any file
// run by vite-node: an experiment script must not be imported by another script (tests may: vitest
// is not vite-node).
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
