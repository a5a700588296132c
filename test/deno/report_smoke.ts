// Run by test/report/deno.test.ts under Deno: draws a line chart (vega-lite, headless) and an image grid
// PNG from the TS sources and prints a JSON summary on stdout.
import { decode } from 'fast-png';
import { lineChartSvg } from '../../src/report/plot.ts';
import { imageGridPng } from '../../src/report/png.ts';

const svg = await lineChartSvg({
  title: 'Robust accuracy vs ε', xLabel: 'ε', yLabel: 'accuracy', yDomain: [0, 1],
  series: [{ name: 'L∞', points: [{ x: 0, y: 0.99 }, { x: 0.3, y: 0.5 }] }, { name: 'L2', points: [{ x: 0, y: 0.99 }, { x: 0.3, y: 0.7 }] }],
});
const image = Float32Array.from({ length: 28 * 28 }, (_, i) => (i % 28) / 27);
const png = imageGridPng({ height: 28, width: 28, channels: 1, rows: [{ label: 'clean', images: [image, image] }], captions: [['y=7 p=7', 'y=1 p=1']] });
const decoded = decode(png);
const runtime = (globalThis as { Deno?: unknown }).Deno ? 'deno' : 'other';
console.log(JSON.stringify({ runtime, svgStart: svg.slice(0, 4), lines: (svg.match(/class="mark-line/g) ?? []).length, hasTitle: svg.includes('>Robust accuracy vs ε</text>'), pngWidth: decoded.width, pngHeight: decoded.height, pngChannels: decoded.channels }));
