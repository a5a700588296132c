// writeFileAtomic's failure path and checkWritable: an unwritable target leaves the old file and no
// temporary file, and the error names the target; checkWritable finds the same problems up front.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkWritable, writeFileAtomic } from '../../src/io/atomic.ts';

describe('writeFileAtomic / checkWritable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mr-atomic-'));

  it('replaces the file and leaves no temporary file', () => {
    const p = join(dir, 'a.json');
    writeFileSync(p, 'old');
    writeFileAtomic(p, 'new');
    expect(readFileSync(p, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['a.json']);
    expect(() => checkWritable(p)).not.toThrow();
    expect(() => checkWritable(join(dir, 'fresh.json'))).not.toThrow();
    expect(readdirSync(dir)).toEqual(['a.json']);
  });

  it.each([
    ['a missing directory', (d: string) => join(d, 'no', 'such', 'x.json'), /^cannot write .*no\/such\/x\.json: ENOENT/],
    ['a directory', (d: string) => { mkdirSync(join(d, 'sub'), { recursive: true }); return join(d, 'sub'); }, /^cannot write .*sub: /],
  ])('fails on %s with a message naming the target, leaving nothing behind', (_what, make, msg) => {
    const target = make(dir);
    const before = readdirSync(dir, { recursive: true }).sort();
    expect(() => writeFileAtomic(target, 'x')).toThrow(msg);
    expect(() => checkWritable(target)).toThrow(msg);
    expect(readdirSync(dir, { recursive: true }).sort()).toEqual(before);
  });

  it('keeps the error code of the cause', () => {
    let err: NodeJS.ErrnoException | undefined;
    try {
      writeFileAtomic(join(dir, 'missing', 'x'), 'x');
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err?.code).toBe('ENOENT');
  });
});
