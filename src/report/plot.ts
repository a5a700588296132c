// Line charts as SVG strings, rendered headless by vega-lite → vega (no DOM, no canvas).
//
// Input: a LineChart (title, axis labels, one Series of {x, y} points per line, optional axis domains
// and plot size). Output: a standalone SVG document (`<svg xmlns=…>…</svg>`, white background) with
// one coloured line per series, a point marker at every point, a legend in the series' order, the
// title on top and the axis labels. Points are joined in the order given (so a trade-off curve may
// turn back on itself); a given domain clips what falls outside it.
//
// Deterministic: the same input gives the same bytes. Vega draws no dates or random ids; its clip-path
// ids come from a process-wide counter, so they are renumbered here in order of appearance, and text
// widths come from a fixed estimate (estimateTextWidth, installed as vega's process-wide text-measuring
// hook), never from a canvas package's measurement, which would change the layout where one is installed.
//
// vega and vega-lite are imported on the first call (they take ~0.5 s to load), so importing the
// package does not pay for them.
import type * as Vega from 'vega';
import type * as VegaLite from 'vega-lite';

export interface Series { name: string; points: { x: number; y: number }[] }

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  yDomain?: [number, number];
  xDomain?: [number, number];
  /** plot area width in pixels (default 480); the SVG adds axes, title and legend around it */
  width?: number;
  /** plot area height in pixels (default 300) */
  height?: number;
}

type TextMetrics = { width: (item: { fontSize?: number; text?: unknown }, text?: unknown) => number };
let libraries: Promise<{ vega: typeof Vega; vl: typeof VegaLite }> | undefined;
const loadLibraries = () => (libraries ??= Promise.all([import('vega'), import('vega-lite')]).then(([vega, vl]) => ({ vega, vl })));

const DEFAULT_WIDTH = 480;
const DEFAULT_HEIGHT = 300;

/** A line chart with one coloured line (with point markers) per series and a legend; deterministic output for the same input. */
export async function lineChartSvg(chart: LineChart): Promise<string> {
  const spec = lineChartSpec(chart);
  const { vega, vl } = await loadLibraries();
  const { spec: vegaSpec } = vl.compile(spec, { logger: vega.logger(vega.Error) });
  // vega's text-measuring hook (exported at run time from vega-scenegraph, missing from vega's typings)
  (vega as unknown as { textMetrics: TextMetrics }).textMetrics.width = estimateTextWidth;
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none', logLevel: vega.Error });
  try {
    return renumberClipIds(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/** The vega-lite spec of a chart, after validating it (exported for tests and for callers who want the spec). */
export function lineChartSpec(chart: LineChart): VegaLite.TopLevelSpec {
  validate(chart);
  const values: { series: string; point: number; x: number; y: number }[] = [];
  for (const s of chart.series) s.points.forEach((p, i) => values.push({ series: s.name, point: i, x: p.x, y: p.y }));
  const clip = chart.xDomain !== undefined || chart.yDomain !== undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: chart.title, fontSize: 15, offset: 12 },
    width: chart.width ?? DEFAULT_WIDTH,
    height: chart.height ?? DEFAULT_HEIGHT,
    background: 'white',
    padding: 8,
    data: { values },
    mark: { type: 'line', point: { filled: true, size: 45 }, strokeWidth: 2, clip },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: chart.xLabel, scale: axisScale(chart.xDomain ?? extent(values.map((v) => v.x))) },
      y: { field: 'y', type: 'quantitative', title: chart.yLabel, scale: axisScale(chart.yDomain ?? extent(values.map((v) => v.y))) },
      color: {
        field: 'series',
        type: 'nominal',
        scale: { domain: chart.series.map((s) => s.name), scheme: 'tableau10' },
        legend: { title: null, labelFontSize: 12, symbolStrokeWidth: 2, labelLimit: 400 },
      },
      order: { field: 'point', type: 'quantitative' },
    },
    config: { axis: { labelFontSize: 11, titleFontSize: 13 } },
  };
}

/** The domain (given, or the data's extent) is kept as is, widened by a few pixels so edge markers are whole. */
function axisScale(domain: [number, number]): { domain: [number, number]; zero: false; nice: false; padding: number } {
  return { domain: [domain[0], domain[1]], zero: false, nice: false, padding: 6 };
}

/** [min, max] of the values; a single value v becomes v ± 10 % (± 0.5 for 0), so the axis still has ticks. */
function extent(v: number[]): [number, number] {
  const lo = Math.min(...v), hi = Math.max(...v);
  if (lo < hi) return [lo, hi];
  const d = lo === 0 ? 0.5 : Math.abs(lo) * 0.1;
  return [lo - d, hi + d];
}

/**
 * Text width in pixels for vega's layout: ~0.6 em per character, roughly a sans-serif font's average
 * (vega's own estimate, 0.8 em, leaves a wide gap after the legend). Fixed, so layouts never depend on
 * whether a canvas package is installed.
 */
function estimateTextWidth(item: { fontSize?: number; text?: unknown }, text?: unknown): number {
  const t = text ?? item.text;
  const s = t == null ? '' : Array.isArray(t) ? t.map(String).reduce((a, b) => (a.length >= b.length ? a : b), '') : String(t);
  return Math.ceil(0.6 * s.length * (item.fontSize ?? 11));
}

function validate(chart: LineChart): void {
  if (chart === null || typeof chart !== 'object') throw new TypeError('lineChartSvg: chart must be an object');
  for (const key of ['title', 'xLabel', 'yLabel'] as const) {
    if (typeof chart[key] !== 'string') throw new TypeError(`lineChartSvg: ${key} must be a string, got ${typeof chart[key]}`);
  }
  if (!Array.isArray(chart.series) || chart.series.length === 0) throw new RangeError('lineChartSvg: series must be a non-empty array');
  const names = new Set<string>();
  chart.series.forEach((s, k) => {
    if (s === null || typeof s !== 'object' || typeof s.name !== 'string') throw new TypeError(`lineChartSvg: series[${k}].name must be a string`);
    if (s.name === '') throw new RangeError(`lineChartSvg: series[${k}].name is empty`);
    if (names.has(s.name)) throw new RangeError(`lineChartSvg: two series are named "${s.name}"`);
    names.add(s.name);
    if (!Array.isArray(s.points) || s.points.length === 0) throw new RangeError(`lineChartSvg: series "${s.name}" has no points`);
    s.points.forEach((p, i) => {
      for (const c of ['x', 'y'] as const) {
        const v = p?.[c];
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`lineChartSvg: series "${s.name}" point ${i}: ${c} is ${String(v)}, not a finite number`);
      }
    });
  });
  for (const key of ['xDomain', 'yDomain'] as const) {
    const d = chart[key];
    if (d === undefined) continue;
    if (!Array.isArray(d) || d.length !== 2 || !d.every(Number.isFinite) || !(d[0] < d[1])) {
      throw new RangeError(`lineChartSvg: ${key} must be [lo, hi] with finite lo < hi, got ${JSON.stringify(d)}`);
    }
  }
  for (const key of ['width', 'height'] as const) {
    const v = chart[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 50 && v <= 4000)) throw new RangeError(`lineChartSvg: ${key} must be an integer in [50, 4000], got ${v}`);
  }
}

/** Rewrites vega's `clipN` ids (a process-wide counter) to clip1, clip2, … in order of first appearance. */
function renumberClipIds(svg: string): string {
  const ids = new Map<string, string>();
  return svg.replace(/(id="|url\(#)(clip\d+)/g, (_, prefix: string, id: string) => {
    let next = ids.get(id);
    if (next === undefined) ids.set(id, (next = `clip${ids.size + 1}`));
    return prefix + next;
  });
}
