// Runs the engine under Deno (the `deno` npm package) and checks its result.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const deno = `${root}node_modules/.bin/deno`;

describe('Deno smoke test', () => {
  it('loads the module from the package files and runs one conv (SIMD = scalar twin)', () => {
    expect(existsSync(deno), 'the deno devDependency is installed').toBe(true);
    const out = execFileSync(deno, ['run', '--allow-read', '--allow-env', 'test/deno/smoke.ts'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r.runtime).toBe('deno');
    expect(r.build).toBe('relaxed'); // Deno validates relaxed SIMD without flags
    expect(r.size).toBe(2 * 14 * 14 * 64);
    expect(r.nonzero).toBeGreaterThan(r.size / 4);
    expect(r.maxDiff).toBeLessThan(1e-4);
  });
});
