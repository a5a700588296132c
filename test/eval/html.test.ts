// eval --html (src/eval/html.ts): one self-contained file: the figures of the report with their
// intervals, the bar chart, the curves and the grid inline, nothing fetched (no script, no URL), and
// the CLI's handling (written with the report, refused with --shard). The rendering in Chromium is
// test/browser/report.browser.ts.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { attackBarsSvg, reportHtml } from '../../src/eval/html.ts';
import type { EvalReport } from '../../src/eval/report.ts';
import { saveModel } from '../../src/nn/checkpoint.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import { loadEngine } from '../../src/wasm/load.ts';

const ROOT = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'html-'));

async function checkpoint(): Promise<string> {
  const engine = await loadEngine({ threads: 1 });
  const path = join(dir, 'm.safetensors');
  saveModel(path, mnistCnn(engine, 2));
  await engine.close();
  return path;
}

describe('eval --html', () => {
  it('writes one file holding every figure, the charts and the grid, and nothing to fetch', async () => {
    const path = await checkpoint();
    const out = join(dir, 'r.html'), json = join(dir, 'r.json');
    await promisify(execFile)(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'eval', '--checkpoint', path, '--attacks', 'linf:0.1:steps=3,l2:1:steps=3,square-l1:5:queries=20', '--n', '20', '--curves', '--html', out, '--out', json, '--quiet', '--threads', '1']);
    const html = readFileSync(out, 'utf8');
    const r = JSON.parse(readFileSync(json, 'utf8')) as EvalReport;
    expect(html).toContain(`${(100 * r.union_accuracy).toFixed(1)} %`);
    for (const a of r.attacks) expect(html).toContain(`<code>${a.name}</code>`);
    for (const [t, iv] of Object.entries(r.threat_intervals)) expect(html).toContain(`<td>${t}</td><td>${(100 * r.threat_models[t]).toFixed(1)} %</td><td>[${(100 * iv[0]).toFixed(1)}, ${(100 * iv[1]).toFixed(1)}]</td>`);
    expect(html.match(/<svg/g)?.length).toBe(2); // the bars and the curves
    expect(html).toMatch(/<img alt="adversarial grid" src="data:image\/png;base64,iVBORw0KGgo/);
    expect(html).not.toMatch(/<script|<link|src="http|href="http|@import/);
    expect(html).toMatch(/first-order attacks only<\/b> for Linf, L2/);
  });

  it('draws every attack as a bar with its interval', () => {
    const r = { n: 10, clean_accuracy: 0.9, clean_interval: [0.6, 0.98], union_accuracy: 0.2, union_interval: [0.05, 0.5], attacks: [{ name: 'linf:0.3', threat: 'Linf', eps: 0.3, settings: { steps: 5 }, robust_accuracy: 0.5, interval: [0.2, 0.8], attacked: 9, broke: 4, time_s: 1 }] } as unknown as EvalReport;
    const svg = attackBarsSvg(r);
    expect(svg.match(/<rect/g)?.length).toBe(3);
    expect(svg).toContain('>linf:0.3</text>');
    expect(svg).toContain(`width="${(0.5 * 360).toFixed(1)}"`);
    expect(reportHtml({ ...r, threat_models: {}, threat_intervals: {}, checks: [], warnings: [], meta: {}, suite: null, cascade: false, checkpoint: 'x', curves: {} } as unknown as EvalReport)).toMatch(/union over every attack <b>20\.0 %<\/b>/);
  });

  it('is refused with --shard (one line, exit 2)', async () => {
    const path = await checkpoint();
    const err = await promisify(execFile)(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'eval', '--checkpoint', path, '--attacks', 'linf:0.1', '--shard', '1/2', '--html', join(dir, 'x.html')]).then(() => null, (e) => e);
    expect(err?.code).toBe(2);
    expect(err.stderr.trim()).toMatch(/--html are made by an unsharded run/);
  });
});
