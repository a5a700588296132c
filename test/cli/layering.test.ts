// The layers (issue 30): the library never imports the command line, and importing a module never
// starts anything. src/cli/ may import anything; nothing else under src/ may import src/cli/, and
// no module outside src/cli/ reads process.argv or exits the process. The regression behind the
// last test: experiment modules used to start themselves whenever any file run by vite-node
// imported them (runAsScript could not tell the entry file from an import).
import { spawnAsync } from '../_helpers/spawn.ts';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(ROOT, 'src');
const CLI = join(SRC, 'cli');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : /\.(ts|js)$/.test(f) ? [p] : [];
  });
}

/** Every module specifier of a file: static imports and re-exports, and dynamic import('…'). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"]([^'"]+)['"]/g)) out.push(m[1]);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) out.push(m[1]);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]);
  return out;
}

const outsideCli = sources(SRC).filter((f) => !f.startsWith(`${CLI}/`));

describe('layering', () => {
  it('nothing under src/ except src/cli imports src/cli', () => {
    expect(outsideCli.length).toBeGreaterThan(50);
    const offenders: string[] = [];
    let checked = 0;
    for (const f of outsideCli) {
      for (const s of specifiers(readFileSync(f, 'utf8'))) {
        if (!s.startsWith('.')) continue;
        checked++;
        const target = resolve(dirname(f), s);
        if (target === CLI || target.startsWith(`${CLI}/`)) offenders.push(`${relative(ROOT, f)} imports ${s}`);
      }
    }
    expect(checked).toBeGreaterThan(200);
    expect(offenders).toEqual([]);
  });

  it('the import scan sees the imports it must refuse', () => {
    expect(specifiers("import { intFlag, UsageError } from '../cli/flags.ts';\nimport '../cli/x.ts';\nexport { a } from \"../cli/y.ts\";\nconst m = await import('../cli/z.ts');"))
      .toEqual(['../cli/flags.ts', '../cli/y.ts', '../cli/x.ts', '../cli/z.ts']);
    expect(specifiers("import {\n  a,\n  b,\n} from './multi.ts';")).toEqual(['./multi.ts']);
  });

  // src/wasm/worker.js is a worker thread's entry: its process.exit ends that thread (the pool's crash test).
  const ENTRIES = [join(SRC, 'wasm', 'worker.js')];

  it('no module outside src/cli reads process.argv or exits the process', () => {
    const offenders = outsideCli.filter((f) => !ENTRIES.includes(f)).filter((f) => {
      const code = readFileSync(f, 'utf8').split('\n').filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l)).join('\n');
      return /process\.argv|process\.exit\s*\(/.test(code);
    });
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });

  it('importing a module never starts it: a vite-node script importing every experiment and standard training only imports them', async () => {
    const modules = ['experiments/mep.ts', 'experiments/nonrobust.ts', 'experiments/invariance.ts', 'experiments/mnist.ts', 'experiments/masking.ts', 'train/standard.ts', 'cli/experiment.ts'];
    const dir = mkdtempSync(join(tmpdir(), 'import-only-'));
    const script = join(dir, 'imports.ts');
    writeFileSync(script, `${modules.map((m) => `import ${JSON.stringify(join(SRC, m))};`).join('\n')}\nconsole.log('imported');\n`);
    // --budget huge: had any import started its experiment, it would have exited 2 with its usage error.
    const r = await spawnAsync(join(ROOT, 'node_modules/.bin/vite-node'), [script, '--budget', 'huge'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('imported');
    expect(r.status).toBe(0);
  }, 120_000);
});
