// `multirobust eval --html FILE`: the report as one self-contained HTML file that opens offline
// (file://) in any browser: the headline (clean and union accuracy with their 95 % intervals), the
// per-threat and per-attack tables, a chart of robust accuracy per attack with its interval, the
// accuracy-vs-ε curves (with --curves), the adversarial grid (the --grid PNG), the checks and the
// settings. The charts are SVG drawn here (the curves by vega-lite, headless: src/report/plot.ts),
// and the grid a data: URL, so the file needs no script, no CDN and no JavaScript bundle (the
// vega bundles the issue suggested would add ~0.8 MB to draw what a few kB of SVG already show).
import { formatSettings } from '../attacks/schema.ts';
import { attackCost, firstOrderOnly, type EvalReport } from './report.ts';
import { pct } from '../report/format.ts';

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const ci = (iv: [number, number]) => `[${(100 * iv[0]).toFixed(1)}, ${(100 * iv[1]).toFixed(1)}]`;

/** Robust accuracy per attack (in the report's order) as horizontal bars with 95 % whiskers. */
export function attackBarsSvg(r: EvalReport): string {
  const rows = [{ name: 'clean', acc: r.clean_accuracy, iv: r.clean_interval }, ...r.attacks.map((a) => ({ name: a.name, acc: a.robust_accuracy, iv: a.interval })), { name: 'union', acc: r.union_accuracy, iv: r.union_interval }];
  const labelW = 300, barW = 360, rowH = 22, top = 24, W = labelW + barW + 70, H = top + rows.length * rowH + 24;
  const x = (v: number) => labelW + v * barW;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12" role="img" aria-label="robust accuracy per attack">`,
    `<text x="${labelW}" y="14" fill="#444">robust accuracy with 95 % interval (n = ${r.n})</text>`];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${top - 4}" y2="${H - 20}" stroke="#e4e4e4"/><text x="${x(t)}" y="${H - 6}" text-anchor="middle" fill="#666">${100 * t}</text>`);
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    const colour = row.name === 'clean' ? '#7a7' : row.name === 'union' ? '#c55' : '#69c';
    out.push(`<text x="${labelW - 6}" y="${y + 14}" text-anchor="end">${esc(row.name.length > 44 ? `${row.name.slice(0, 43)}…` : row.name)}</text>`,
      `<rect x="${labelW}" y="${y + 4}" width="${(row.acc * barW).toFixed(1)}" height="${rowH - 8}" fill="${colour}"/>`,
      `<line x1="${x(row.iv[0]).toFixed(1)}" x2="${x(row.iv[1]).toFixed(1)}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" stroke="#222"/>`,
      `<text x="${(x(Math.max(row.acc, row.iv[1])) + 6).toFixed(1)}" y="${y + 14}" fill="#222">${(100 * row.acc).toFixed(1)}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}

export interface HtmlParts {
  /** The accuracy-vs-ε SVG (curvesSvg), when the report has curves. */
  curvesSvg?: string | null;
  /** The adversarial grid PNG (evalGridPng). */
  gridPng?: Uint8Array | null;
}

export function reportHtml(r: EvalReport, parts: HtmlParts = {}): string {
  const meta = r.meta as Record<string, unknown>;
  const title = `robustness of ${r.checkpoint ?? 'a model'}`;
  const firstOrder = firstOrderOnly(r);
  const threatRows = Object.entries(r.threat_models).map(([t, v]) => `<tr><td>${esc(t)}</td><td>${pct(v)}</td><td>${ci(r.threat_intervals[t])}</td><td>${esc(r.attacks.filter((a) => a.threat === t).map((a) => a.name).join(', '))}</td></tr>`);
  const attackRows = r.attacks.map((a) => `<tr><td><code>${esc(a.name)}</code></td><td>${esc(a.threat)}</td><td>${a.eps ?? '–'}</td><td>${pct(a.robust_accuracy)}</td><td>${ci(a.interval)}</td><td>${a.broke}</td><td>${a.attacked}</td><td>${a.time_s.toFixed(1)} s</td><td>${esc(attackCost(a))}</td><td>${esc(formatSettings(a.settings))}</td></tr>`);
  const checkRows = r.checks.map((c) => `<li class="${c.ran === false ? 'na' : c.ok ? 'ok' : 'bad'}"><b>${c.ran === false ? 'n/a' : c.ok ? 'ok' : 'WARNING'}</b> ${esc(c.name)}: ${esc(c.detail)}</li>`);
  const grid = parts.gridPng ? `<h2>Adversarial examples</h2><p class="muted">First row: the clean images; then per attack its adversarial images and their perturbations.</p><img alt="adversarial grid" src="data:image/png;base64,${Buffer.from(parts.gridPng).toString('base64')}">` : '';
  const curves = parts.curvesSvg ? `<h2>Robust accuracy vs ε</h2><div class="chart">${parts.curvesSvg}</div>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 70em; padding: 0 1em; color: #222; }
  table { border-collapse: collapse; margin: .5em 0 1em; }
  td, th { border-bottom: 1px solid #e4e4e4; padding: .25em .7em; text-align: left; vertical-align: top; }
  .headline { font-size: 18px; }
  .muted { color: #666; }
  li.ok b { color: #282; } li.bad b { color: #b00; } li.na b { color: #777; }
  img { image-rendering: pixelated; max-width: 100%; }
</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p class="headline">clean <b>${pct(r.clean_accuracy)}</b> ${ci(r.clean_interval)} · union over every attack <b>${pct(r.union_accuracy)}</b> ${ci(r.union_interval)} · n = ${r.n}</p>
<p class="muted">${r.suite ? `suite <b>${esc(r.suite)}</b>, ` : 'attack list, '}${r.cascade ? 'each attack on the points earlier attacks of its threat model left standing' : 'each attack on every point'}; 95 % Wilson intervals${firstOrder.length ? `; <b>first-order attacks only</b> for ${esc(firstOrder.join(', '))}: those figures may overstate robustness` : ''}. multirobust ${esc(meta.version)}, seed ${esc(meta.seed)}, ${esc(meta.threads)} threads, build ${esc(meta.build)}, ${esc(meta.date)}, ${Number(meta.seconds ?? 0).toFixed(0)} s.</p>
<h2>Per threat model</h2>
<table><tr><th>threat model</th><th>robust accuracy</th><th>95 % interval</th><th>attacks</th></tr>${threatRows.join('')}</table>
<div class="chart">${attackBarsSvg(r)}</div>
${curves}
<h2>Per attack</h2>
<table><tr><th>attack</th><th>threat</th><th>ε</th><th>robust</th><th>95 % interval</th><th>broke</th><th>ran on</th><th>time</th><th>cost</th><th>settings</th></tr>${attackRows.join('')}</table>
<h2>Checks</h2>
<ul>${checkRows.join('')}</ul>
${r.warnings.length ? `<h2>Warnings</h2><ul>${r.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : ''}
${grid}
</body>
</html>
`;
}
