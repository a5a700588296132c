// npm 11 skips dependencies' install scripts unless package.json's allowScripts approves them, and
// lists every package it skipped at the end of `npm install`. None of ours is needed (see README),
// so each is denied explicitly: a fresh install prints no warning block.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('install scripts', () => {
  it('every installed dependency with an install script is covered by allowScripts', () => {
    const r = spawnSync('npm', ['install-scripts', 'ls'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/not yet covered by allowScripts/);
    expect(r.stdout).toMatch(/No packages with unreviewed install scripts/);
  });
});
