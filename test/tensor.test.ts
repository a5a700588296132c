import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor.ts';
import { engineFor } from './_helpers/engine.ts';

describe('Tensor.from input checks', async () => {
  const engine = await engineFor('simd');

  it('copies arrays and typed arrays of numbers', () => {
    engine.arena.scope(() => {
      expect(Array.from(Tensor.from(engine, [1, -2.5], [2]).toArray())).toEqual([1, -2.5]);
      expect(Array.from(Tensor.from(engine, Int32Array.of(3, 4, 5, 6), [2, 2]).toArray())).toEqual([3, 4, 5, 6]);
      expect(Array.from(Tensor.from(engine, Float64Array.of(0.5), [1]).toArray())).toEqual([0.5]);
    });
  });

  it.each([
    ['null', null, /Tensor\.from: data must be an array or typed array of numbers, got null/],
    ['undefined', undefined, /data must be an array or typed array of numbers, got undefined/],
    ['a string (it has a length too)', 'ab', /data must be an array or typed array of numbers, got string "ab"/],
    ['an array of strings', ['1', '2'], /Tensor\.from: data must hold numbers, got data\[0\] = "1"/],
    ['a plain object', { length: 2 }, /data must be an array or typed array of numbers, got Object/],
  ])('%s is a TypeError naming the problem', (_name, data, msg) => {
    expect(() => Tensor.from(engine, data as never, [2])).toThrow(TypeError);
    expect(() => Tensor.from(engine, data as never, [2])).toThrow(msg);
  });
});
