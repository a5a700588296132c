import { describe, expect, it } from 'vitest';
import { UsageError, intFlag, numberFlag, parseNumber } from '../../src/cli/flags.ts';

describe('numeric flags', () => {
  it('parseNumber takes decimals, exponents and fractions', () => {
    expect(parseNumber('--eps', '0.3')).toBe(0.3);
    expect(parseNumber('--eps', '1e-3')).toBe(1e-3);
    expect(parseNumber('--eps', '8/255')).toBe(8 / 255);
    expect(parseNumber('--eps', ' -.5 ')).toBe(-0.5);
  });

  it.each(['99%', '', 'abc', '1/0', '1/2/3', 'Infinity', 'NaN', '0x10', '1e999', '/3', '3/'])('parseNumber rejects %j with a UsageError naming it', (s) => {
    let err: unknown;
    try { parseNumber('--target-acc', s); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(`--target-acc must be a number, got '${s}'`);
  });

  it('intFlag: undefined passes through, integers within bounds parse, the rest throws', () => {
    expect(intFlag('epochs', undefined, { min: 1 })).toBeUndefined();
    expect(intFlag('epochs', '3', { min: 1 })).toBe(3);
    expect(intFlag('epochs', '1e3')).toBe(1000);
    expect(() => intFlag('epochs', '2.5')).toThrow(new UsageError("--epochs must be an integer, got '2.5'"));
    expect(() => intFlag('epochs', 'two')).toThrow(new UsageError("--epochs must be an integer, got 'two'"));
    expect(() => intFlag('epochs', '0', { min: 1 })).toThrow(new UsageError("--epochs must be ≥ 1, got '0'"));
    expect(() => intFlag('threads', '9', { max: 8 })).toThrow(new UsageError("--threads must be ≤ 8, got '9'"));
    expect(() => intFlag('epochs', '0', { min: 1 })).toThrow(UsageError);
  });

  it('numberFlag: fractions, inclusive min/max and exclusive gt', () => {
    expect(numberFlag('eps', undefined)).toBeUndefined();
    expect(numberFlag('eps', '8/255', { min: 0, max: 1 })).toBe(8 / 255);
    expect(numberFlag('target-acc', '100', { min: 0, max: 100 })).toBe(100);
    expect(() => numberFlag('target-acc', '101', { min: 0, max: 100 })).toThrow(new UsageError("--target-acc must be ≤ 100, got '101'"));
    expect(() => numberFlag('lr', '0', { gt: 0 })).toThrow(new UsageError("--lr must be > 0, got '0'"));
    expect(() => numberFlag('target-acc', '99%')).toThrow(new UsageError("--target-acc must be a number, got '99%'"));
  });
});
