// lineChartSvg: an SVG document with one line per series, the title, axis labels and legend names,
// byte-identical for the same input, and clear errors for bad input.
import { describe, expect, it } from 'vitest';
import { lineChartSvg, type LineChart } from '../../src/report/plot.ts';

const eps = [0, 0.1, 0.2, 0.3];
const chart = (): LineChart => ({
  title: 'Robust accuracy vs ε',
  xLabel: 'epsilon',
  yLabel: 'robust accuracy',
  yDomain: [0, 1],
  series: [
    { name: 'L∞ PGD', points: eps.map((x) => ({ x, y: 1 - 2 * x })) },
    { name: 'L2 <PGD> & co', points: eps.map((x) => ({ x, y: 1 - x })) },
    { name: 'union', points: eps.map((x) => ({ x, y: 1 - 3 * x })) },
  ],
});

/** The `d` attribute of every path inside a line-mark group (vega draws one group per series). */
function linePaths(svg: string): string[] {
  const groups = [...svg.matchAll(/<g class="mark-line[^>]*>(.*?)<\/g>/g)].map((m) => m[1]);
  return groups.flatMap((g) => [...g.matchAll(/<path[^>]* d="([^"]*)"/g)].map((m) => m[1]));
}

describe('lineChartSvg', () => {
  it('draws an SVG root, one line per series, the title, the labels and the series names', async () => {
    const svg = await lineChartSvg(chart());
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    const paths = linePaths(svg);
    expect(paths).toHaveLength(3);
    // each line goes through its 4 points: one move and three line-tos
    for (const d of paths) expect(d.match(/[ML]/g)).toEqual(['M', 'L', 'L', 'L']);
    expect(new Set(paths).size).toBe(3);
    for (const text of ['Robust accuracy vs ε', 'epsilon', 'robust accuracy', 'L∞ PGD', 'L2 &lt;PGD&gt; &amp; co', 'union']) {
      expect(svg).toContain(`>${text}</text>`);
    }
    // a point marker per point: 12 symbols
    const symbols = [...svg.matchAll(/<g class="mark-symbol role-mark[^"]*"[^>]*>(.*?)<\/g>/g)].map((m) => m[1].match(/<path/g)?.length ?? 0);
    expect(symbols.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(12);
  });

  it('uses one colour per series, in a legend in the given order', async () => {
    const svg = await lineChartSvg(chart());
    const strokes = [...svg.matchAll(/<g class="mark-line[^>]*><path[^>]* stroke="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(strokes).size).toBe(3);
    const legend = svg.indexOf('role-legend');
    expect(legend).toBeGreaterThan(0);
    const order = ['L∞ PGD', 'L2 &lt;PGD&gt; &amp; co', 'union'].map((n) => svg.indexOf(`>${n}</text>`, legend));
    expect(order.every((p) => p > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('is byte-identical for the same input, also after other charts were drawn', async () => {
    const a = await lineChartSvg(chart());
    await Promise.all([lineChartSvg(chart()), lineChartSvg({ ...chart(), xDomain: [0, 0.5] })]);
    const b = await lineChartSvg(chart());
    expect(b).toBe(a);
    expect(a).not.toMatch(/\d{4}-\d\d-\d\d/); // no dates
  });

  it('follows the given size and domain', async () => {
    // the plot area's frame is width × height; the document adds axes, title and legend around it
    const svg = await lineChartSvg({ ...chart(), width: 600, height: 400 });
    expect(svg).toContain('<path class="background" aria-hidden="true" d="M0.5,0.5h600v400h-600Z"');
    const [w, h] = svg.match(/^<svg[^>]* width="(\d+)" height="(\d+)"/)!.slice(1).map(Number);
    expect(w).toBeGreaterThan(600);
    expect(h).toBeGreaterThan(400);
    // the y axis is labelled 0.0 … 1.0 when yDomain is [0, 1], whatever the data
    const low = await lineChartSvg({ ...chart(), series: [{ name: 'a', points: [{ x: 0, y: 0.4 }, { x: 1, y: 0.5 }] }] });
    expect(low).toContain('>1.0</text>');
    expect(low).toContain('>0.0</text>');
  });

  it('gives a constant series an axis around its value', async () => {
    const svg = await lineChartSvg({ title: 'flat', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [{ x: 1, y: 0.5 }, { x: 2, y: 0.5 }] }] });
    expect(svg).not.toContain('NaN');
    for (const tick of ['0.46', '0.50', '0.54']) expect(svg).toContain(`>${tick}</text>`);
  });

  it('rejects bad input with a message naming the problem', async () => {
    const bad = (patch: Partial<LineChart>) => lineChartSvg({ ...chart(), ...patch });
    await expect(bad({ series: [] })).rejects.toThrow(/series must be a non-empty array/);
    await expect(bad({ series: [{ name: 'a', points: [] }] })).rejects.toThrow(/series "a" has no points/);
    await expect(bad({ series: [{ name: 'a', points: [{ x: 0, y: NaN }] }] })).rejects.toThrow(/series "a" point 0: y is NaN/);
    await expect(bad({ series: [{ name: 'a', points: [{ x: 0, y: 1 }, { x: Infinity, y: 1 }] }] })).rejects.toThrow(/point 1: x is Infinity/);
    await expect(bad({ series: [{ name: 'a', points: [{ x: 0, y: 1 }] }, { name: 'a', points: [{ x: 0, y: 1 }] }] })).rejects.toThrow(/two series are named "a"/);
    await expect(bad({ yDomain: [1, 0] })).rejects.toThrow(/yDomain must be \[lo, hi\]/);
    await expect(bad({ xDomain: [0, NaN] })).rejects.toThrow(/xDomain/);
    await expect(bad({ width: 0 })).rejects.toThrow(/width must be an integer/);
    await expect(bad({ title: undefined as unknown as string })).rejects.toThrow(/title must be a string/);
  });
});
