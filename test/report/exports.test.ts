// The report functions are part of the package's public API (src/index.ts).
import { describe, expect, it } from 'vitest';
import * as pkg from '../../src/index.ts';

describe('public exports', () => {
  it('include lineChartSvg, encodePng and imageGridPng', async () => {
    expect((await pkg.lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [{ x: 0, y: 0 }] }] })).startsWith('<svg')).toBe(true);
    expect([...pkg.encodePng(1, 1, 1, new Uint8Array([7])).subarray(1, 4)]).toEqual([80, 78, 71]); // "PNG"
    expect(pkg.imageGridPng({ height: 1, width: 1, channels: 1, rows: [{ label: 'a', images: [new Float32Array(1)] }] })).toBeInstanceOf(Uint8Array);
  });
});
