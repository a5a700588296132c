// Crash-safe writes (issue 21): a child process rewrites a safetensors checkpoint (writeSafetensors)
// and a JSON report (writeFileAtomic) in a loop and is killed with SIGKILL at seeded random moments,
// 60 times; after every kill each file on disk must be a complete version, the old or the new one:
// it parses, every value equals its version, and that version is not older than what was on disk
// before the run nor newer than the one being written. The test also counts the kills that landed while a write was in progress (the child
// prints "start K" / "done K"), so it fails if the kills missed the writes.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { parseSafetensors, toFloat32, writeSafetensors } from '../../src/io/safetensors.ts';

const root = join(import.meta.dirname, '..', '..');
const deno = join(root, 'node_modules', '.bin', 'deno');

/** Starts the child at version `first`, kills it `delayMs` after its first "start" line; returns its lines. */
function runAndKill(dir: string, first: number, delayMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    // Its own process group: node_modules/.bin/deno may be npm's Node launcher (when deno's install
    // script did not run, as on a fresh clone) that starts the real binary as a child; SIGKILL goes
    // to the whole group, so it reaches the process that writes.
    const child = spawn(deno, ['run', '--allow-read', '--allow-write', '--allow-env', 'test/io/kill_child.ts', dir, String(first)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '', err = '', armed = false;
    child.stdout.on('data', (b) => {
      out += b;
      if (!armed && out.includes('start')) {
        armed = true;
        setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), delayMs);
      }
    });
    child.stderr.on('data', (b) => (err += b));
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child ended by itself (code ${code}): ${err}`));
      else resolve(out.split('\n').filter(Boolean));
    });
  });
}

function versionOf(dir: string): { model: number; report: number } {
  const st = parseSafetensors(readFileSync(join(dir, 'model.safetensors')), 'model.safetensors');
  const model = Number(st.metadata.version);
  const w = toFloat32(st.tensors.get('w')!);
  if (w.length !== 1 << 18 || w.some((v) => v !== model)) throw new Error(`model.safetensors mixes versions (metadata ${model})`);
  const rep = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { version: number; length: number; payload: string };
  if (rep.payload.length !== rep.length) throw new Error('report.json is incomplete');
  return { model, report: rep.version };
}

describe('crash-safe writes under SIGKILL', () => {
  it('60 kills during writes: every file on disk is the old or the new complete version', async () => {
    expect(existsSync(deno), 'the deno devDependency runs the child').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'mr-kill-'));
    writeSafetensors(join(dir, 'model.safetensors'), { w: { dtype: 'F32', shape: [1 << 18], data: new Float32Array(1 << 18).fill(0) } }, { version: '0' });
    writeFileAtomic(join(dir, 'report.json'), JSON.stringify({ version: 0, length: 0, payload: '' }));
    let version = 1, duringWrite = 0, seed = 12345;
    let seen = { model: 0, report: 0 };
    const kills = 60;
    for (let i = 0; i < kills; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const lines = await runAndKill(dir, version, 5 + (seed % 120));
      const started = Number(lines.filter((l) => l.startsWith('start')).at(-1)?.split(' ')[1] ?? version);
      if ((lines.at(-1) ?? '').startsWith('start')) duringWrite++;
      // Each file parses and holds one version throughout (versionOf throws otherwise); that
      // version is the one on disk before this run or one this run wrote, never a later one.
      const v = versionOf(dir);
      for (const f of ['model', 'report'] as const) {
        expect(v[f], `kill ${i}: ${f} version`).toBeGreaterThanOrEqual(seen[f]);
        expect(v[f], `kill ${i}: ${f} version`).toBeLessThanOrEqual(started);
      }
      seen = v;
      version = started + 1;
    }
    expect(duringWrite).toBeGreaterThanOrEqual(50);
  });
});
