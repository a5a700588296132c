// Every registered op must have a float64 reference spec and at least one checkOp call in test/ops.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listOps } from '../src/ops/index.ts';
import { REFS } from './_helpers/gradcheck.ts';

describe('op registry', () => {
  const dir = join(import.meta.dirname, 'ops');
  const checked = new Set<string>();
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.test.ts')) continue;
    for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/checkOp\('(\w+)'/g)) checked.add(m[1]);
  }

  it('lists the ops', () => {
    expect(listOps().length).toBeGreaterThanOrEqual(14);
  });

  it.each(listOps())('%s has a reference spec and a gradient check', (name) => {
    expect(REFS[name], `op '${name}' has no REFS entry in test/_helpers/gradcheck.ts`).toBeDefined();
    expect(checked.has(name), `op '${name}' has no checkOp('${name}', …) call in test/ops/`).toBe(true);
  });
});
