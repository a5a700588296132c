// The training example of docs/training.md (the ```ts block after `<!-- readme-example: train -->`), run as
// written, with the package import pointed at src/index.ts, in Node (vite-node) and in Deno. Both
// must print the same JSON summary (same kernels build and thread count ⇒ same bits). The file is
// written under runs/ (git-ignored) so both runtimes resolve the repository's node_modules.
import { spawnAsync } from '../_helpers/spawn.ts';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function readmeExample(): string {
  const readme = readFileSync(`${ROOT}docs/training.md`, 'utf8');
  const m = /<!-- readme-example: train -->\s*```ts\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('docs/training.md has no ```ts block after <!-- readme-example: train -->');
  return m[1];
}

describe('docs/training.md training example', () => {
  it('uses only the package\'s public exports and runs in Node and in Deno with the same result', async () => {
    const code = readmeExample();
    expect(code).toMatch(/from 'multirobust';/);
    expect(code.split('\n').length).toBeLessThanOrEqual(20);
    mkdirSync(`${ROOT}runs`, { recursive: true });
    const file = `${ROOT}runs/readme-example-${process.pid}.ts`;
    writeFileSync(file, code.replace("from 'multirobust'", "from '../src/index.ts'"));
    try {
      const env = { ...process.env, MULTIROBUST_THREADS: '2' };
      const node = await spawnAsync(`${ROOT}node_modules/.bin/vite-node`, [file], { cwd: ROOT, timeout: 240_000, env });
      expect(node.status, node.stderr).toBe(0);
      const deno = await spawnAsync(`${ROOT}node_modules/.bin/deno`, ['run', '-A', file], { cwd: ROOT, timeout: 240_000, env });
      expect(deno.status, deno.stderr).toBe(0);
      const a = JSON.parse(node.stdout.trim().split('\n').pop()!), b = JSON.parse(deno.stdout.trim().split('\n').pop()!);
      expect(a.clean).toBeGreaterThan(0.5);
      expect(a.union).toBeGreaterThanOrEqual(0);
      expect(a.union).toBeLessThanOrEqual(Math.min(a.threats.Linf, a.threats.L2, a.threats.L1));
      expect(Object.keys(a.threats)).toEqual(['Linf', 'L2', 'L1']);
      expect(b).toEqual(a);
    } finally {
      rmSync(file, { force: true });
    }
  }, 600_000);
});
