// main() maps bad input thrown by a command to exit code 2 with one line on stderr (a UsageError
// from the CLI's flags, or the library's InputError, src/errors.ts: a checkpoint that does not
// load, an unknown token), and any other error to exit code 1. The engine loader is mocked so that `info` throws what we choose.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/cli/flags.ts';
import { InputError } from '../../src/errors.ts';

const thrown: { err: Error } = { err: new Error('unset') };
vi.mock('../../src/wasm/load.ts', () => ({
  loadEngine: async () => { throw thrown.err; },
  missingFeatures: () => [],
  supportsRelaxed: async () => false,
}));
const { main } = await import('../../src/cli/main.ts');

describe('CLI exit codes', () => {
  afterEach(() => vi.restoreAllMocks());

  it('a UsageError exits 2 with one line on stderr; other errors exit 1', async () => {
    const errs: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((s: string) => { errs.push(s); });
    thrown.err = new UsageError("--eps must be a number, got 'x'");
    expect(await main(['info'])).toBe(2);
    expect(errs).toEqual(["multirobust info: --eps must be a number, got 'x'"]);
    thrown.err = new InputError('checkpoint m.safetensors: not a safetensors file');
    expect(await main(['info'])).toBe(2);
    expect(errs.at(-1)).toBe('multirobust info: checkpoint m.safetensors: not a safetensors file');
    expect(new UsageError('x')).toBeInstanceOf(InputError);
    thrown.err = new Error('kernel trapped');
    expect(await main(['info'])).toBe(1);
  });
});
