// Runs test/deno/report_smoke.ts under Deno (the `deno` npm package): the line chart and the image grid
// work there too, and give the same sizes as in Node.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { imageGridLayout } from '../../src/report/png.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const deno = `${root}node_modules/.bin/deno`;

describe('report under Deno', () => {
  it('renders an SVG line chart and a PNG grid', () => {
    const out = execFileSync(deno, ['run', '--allow-read', '--allow-env', 'test/deno/report_smoke.ts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    const layout = imageGridLayout({ height: 28, width: 28, channels: 1, rows: [{ label: 'clean', images: [new Float32Array(784), new Float32Array(784)] }], captions: [['y=7 p=7', 'y=1 p=1']] });
    expect(r).toEqual({ runtime: 'deno', svgStart: '<svg', lines: 2, hasTitle: true, pngWidth: layout.width, pngHeight: layout.height, pngChannels: 3 });
  });
});
