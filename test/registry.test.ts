// Every registered op must have a float64 reference spec and pass checkOp. The registry records
// each op whose checkOp passed (markChecked), so a checkOp('name' in a comment or in a skipped or
// failing test does not count: this file runs every test/ops suite, then reads the record.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listOps } from '../src/ops/index.ts';
import { checkedOps } from '../src/ops/registry.ts';
import { REFS } from './_helpers/gradcheck.ts';

const dir = join(import.meta.dirname, 'ops');
for (const f of readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort()) await import(join(dir, f));

// Registered after the suites above, so it runs after them.
describe('op registry', () => {
  it('lists the ops', () => {
    expect(listOps().length).toBeGreaterThanOrEqual(14);
  });

  it('every op has a reference spec and passed a checkOp forward and gradient check', () => {
    const checked = new Set(checkedOps());
    expect(listOps().filter((name) => !REFS[name]), 'ops with no REFS entry in test/_helpers/gradcheck.ts').toEqual([]);
    expect(listOps().filter((name) => !checked.has(name)), 'ops with no passing checkOp(name, …) in test/ops/').toEqual([]);
  });
});
