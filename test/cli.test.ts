// The CLI as a user runs it: the compiled bin under Node, exit codes and messages.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('multirobust CLI', () => {
  it('info prints the engine (in-process)', async () => {
    const logs: string[] = [];
    const orig = console.log;
    console.log = (s: string) => logs.push(s);
    try {
      expect(await main(['info', '--json'])).toBe(0);
    } finally {
      console.log = orig;
    }
    const info = JSON.parse(logs.join('\n'));
    expect(info.kernels).toBe('simd');
    expect(info.kernelNames).toContain('f32_conv2d_fwd');
  });

  it('unknown commands and flags are errors that name them (exit 2)', async () => {
    const errs: string[] = [];
    const orig = console.error;
    console.error = (s: string) => errs.push(s);
    try {
      expect(await main(['trian'])).toBe(2);
      expect(await main(['info', '--threds', '2'])).toBe(2);
      expect(await main(['info', '--kernels', 'avx'])).toBe(2);
    } finally {
      console.error = orig;
    }
    expect(errs[0]).toMatch(/unknown command 'trian'/);
    expect(errs[1]).toMatch(/--threds/);
    expect(errs[2]).toMatch(/kernels must be 'simd' or 'scalar'/);
  });

  it('the built bin runs under Node (dist/cli/bin.js, as npm links it)', () => {
    const bin = `${root}dist/cli/bin.js`;
    expect(existsSync(bin), 'npm install builds dist/').toBe(true);
    const r = spawnSync(process.execPath, [bin, 'info'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/multirobust engine: build (release|relaxed), simd kernels/);
    const h = spawnSync(process.execPath, [bin, '--help'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/usage: multirobust <command>/);
  });
});
