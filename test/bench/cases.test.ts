// bench:threads validates every case 2 threads vs 1 before timing; a failing validation aborts the
// bench. Run that validation here, on the same cases, so a kernel change that breaks it fails CI.
import { afterAll, describe, expect, it } from 'vitest';
import { THREAD_CASES, validateThreadSplit } from '../../bench/cases.ts';
import { loadEngine } from '../../src/wasm/load.ts';

describe('bench:threads cases: 2 threads agree with 1 (bit for bit, or within the reduction tolerance)', async () => {
  const one = await loadEngine({ threads: 1, initialMemoryMiB: 256 });
  const two = await loadEngine({ threads: 2, initialMemoryMiB: 256, minParallelCost: 0 });
  afterAll(() => Promise.all([one.close(), two.close()]));

  it.each(THREAD_CASES.map((c) => ({ c, name: c.name })))('$name', ({ c }) => {
    const a = c.setup(one), b = c.setup(two);
    a.run();
    b.run();
    expect(() => validateThreadSplit(c, b.output(), a.output())).not.toThrow();
  });
});
