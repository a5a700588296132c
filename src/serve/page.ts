// The page `multirobust serve` serves at /. Its script starts the engine thread
// (/dist/serve/app_worker.js, a module Worker) and talks to it by messages; the page itself never
// blocks. URL contract (relied on outside the project):
//   /?checkpoint=PATH&attacks=TOKENS&n=N&seed=S&threads=T&run=1
// runs the evaluation on load (also suite=, threats=, batch=, steps=, restarts=, cascade=1, as
// `multirobust eval`'s flags) and, when it is done, writes the report JSON (the keys of
// `multirobust eval --out`) into <pre id="report">; a failure goes to <pre id="error">.
// Tests call window.multirobust.call({ op, … }) (src/serve/app_worker.ts lists the operations).

export interface PageOptions {
  /** The checkpoint `serve --checkpoint` named, offered when the URL names none. */
  checkpoint: string | null;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function pageHtml(opts: PageOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>multirobust</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 60em; padding: 0 1em; color: #222; }
  pre { background: #f6f6f6; padding: .6em; overflow: auto; max-height: 30em; }
  #error { color: #a00; }
  .muted { color: #666; }
</style>
</head>
<body data-checkpoint="${escapeHtml(opts.checkpoint ?? '')}">
<h1>multirobust</h1>
<p class="muted">Adversarial robustness for multiple perturbation types, on the WebAssembly engine in this page (<span id="isolation"></span>).</p>
<p id="status">starting the engine thread…</p>
<pre id="log"></pre>
<pre id="error" hidden></pre>
<pre id="report" hidden></pre>
<script type="module">
const $ = (id) => document.getElementById(id);
$('isolation').textContent = self.crossOriginIsolated ? 'cross-origin isolated: worker threads available' : 'not cross-origin isolated: one thread';
const worker = new Worker('/dist/serve/app_worker.js', { type: 'module' });
const pending = new Map();
let nextId = 1;
const ready = new Promise((resolve) => {
  worker.addEventListener('message', (e) => {
    const m = e.data;
    if (m.op === 'ready') return resolve();
    if (m.op === 'log') { $('log').textContent += m.line + '\\n'; return; }
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  });
});
worker.addEventListener('error', (e) => { $('error').hidden = false; $('error').textContent = 'engine thread failed: ' + (e.message || 'its module did not load'); });
async function call(msg) {
  await ready;
  return new Promise((resolve) => { const id = nextId++; pending.set(id, resolve); worker.postMessage({ ...msg, id }); });
}
window.multirobust = { call, ready };
await ready;
$('status').textContent = 'engine thread ready';
const q = new URLSearchParams(location.search);
if (q.get('run') === '1') {
  const args = { op: 'eval' };
  for (const k of ['checkpoint', 'attacks', 'suite', 'threats', 'n', 'seed', 'threads', 'batch', 'steps', 'restarts', 'cascade']) if (q.has(k)) args[k] = q.get(k);
  args.checkpoint ??= document.body.dataset.checkpoint || undefined;
  $('status').textContent = 'evaluating…';
  const t0 = performance.now();
  const r = await call(args);
  if (r.ok) {
    $('report').hidden = false;
    $('report').textContent = JSON.stringify(r.report, null, 2);
    $('status').textContent = 'done in ' + ((performance.now() - t0) / 1000).toFixed(1) + ' s';
  } else {
    $('error').hidden = false;
    $('error').textContent = r.error;
    $('status').textContent = 'failed';
  }
}
</script>
</body>
</html>
`;
}
