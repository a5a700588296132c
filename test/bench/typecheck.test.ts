// The bench scripts run under vite-node, which strips types without checking them, and tsconfig.json
// covers src/ only: a bench could reference a name that does not exist and fail only when someone
// runs it (bench:threads did: `CASES` after a rename). This type-checks bench/ as `npm test` runs.
import { spawnAsync } from '../_helpers/spawn.ts';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('bench/ type-checks (tsconfig.bench.json)', () => {
  it('tsc reports no error', async () => {
    const r = await spawnAsync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.bench.json'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 150_000);
});
