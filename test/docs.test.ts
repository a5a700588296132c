// The documentation a newcomer reads: README.md stays short (≤ 12 kB), every relative link in
// README.md and docs/ (files and images) resolves, and the README's code taste runs as written
// (the package import pointed at src/index.ts) and computes what it says.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? markdownFiles(p) : f.endsWith('.md') ? [p] : [];
  });
}

describe('documentation', () => {
  it('README.md is at most 12 kB', () => {
    expect(readFileSync(join(ROOT, 'README.md')).length).toBeLessThanOrEqual(12 * 1024);
  });

  it('every relative link in README.md and docs/ resolves', () => {
    const files = [join(ROOT, 'README.md'), ...markdownFiles(join(ROOT, 'docs'))];
    const broken: string[] = [];
    let checked = 0;
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1];
        if (/^[a-z]+:/i.test(target) || target.startsWith('#')) continue;
        const path = resolve(dirname(f), decodeURIComponent(target.split('#')[0]));
        checked++;
        if (!existsSync(path)) broken.push(`${f.slice(ROOT.length)}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });

  it('the README\'s code taste runs as written', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const m = /## A taste\s*```ts\n([\s\S]*?)```/.exec(readme);
    expect(m, 'README.md has a ```ts block under "A taste"').not.toBeNull();
    const code = m![1];
    expect(code).toMatch(/from 'multirobust';/);
    mkdirSync(join(ROOT, 'runs'), { recursive: true });
    const file = join(ROOT, 'runs', `readme-taste-${process.pid}.ts`);
    writeFileSync(file, `${code.replace("from 'multirobust'", "from '../src/index.ts'")}\nconsole.log(JSON.stringify({ shape: gx.shape, finite: gx.toArray().every(Number.isFinite) }));\nawait engine.close();\n`);
    try {
      // Asynchronous: a long synchronous child would block vitest's own messages.
      const { stdout: out } = await promisify(execFile)(join(ROOT, 'node_modules/.bin/vite-node'), [file], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, MULTIROBUST_THREADS: '2' } });
      expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ shape: [100, 28, 28, 1], finite: true });
    } finally {
      rmSync(file, { force: true });
    }
  }, 150_000);
});
