// The page `multirobust serve` serves at /. Its script starts the engine thread
// (/dist/serve/app_worker.js, a module Worker) and talks to it by messages; the page itself never
// blocks. URL contract (relied on outside the project):
//   /?checkpoint=PATH&attacks=TOKENS&n=N&seed=S&threads=T&run=1
// runs the evaluation on load (also suite=, threats=, batch=, steps=, restarts=, cascade=1, as
// `multirobust eval`'s flags) and, when it is done, writes the report JSON (the keys of
// `multirobust eval --out`) into <pre id="report">; a failure goes to <pre id="error">.
// Its script is src/serve/page_script.js. Tests call window.multirobust.call({ op, … }) (src/serve/app_worker.ts
// lists the operations).

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
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 64em; padding: 0 1em; color: #222; }
  section { border-top: 1px solid #ddd; margin-top: 1.2em; padding-top: .4em; }
  pre { background: #f6f6f6; padding: .6em; overflow: auto; max-height: 24em; }
  #error { color: #a00; }
  .muted { color: #666; }
  .digit { margin: 1px; border: 2px solid transparent; width: 42px; height: 42px; cursor: pointer; }
  .digit.chosen { border-color: #c33; }
  figure { display: inline-block; margin: .3em 1em .3em 0; vertical-align: top; }
  figure canvas { border: 1px solid #ccc; }
  .bar { display: grid; grid-template-columns: 1.2em 8em 4em; align-items: center; font-size: 12px; }
  .bar i { background: #69c; height: .8em; display: block; }
  .bar.truth span { font-weight: bold; }
  label { margin-right: 1em; }
  input[type=number] { width: 5em; }
</style>
</head>
<body data-checkpoint="${escapeHtml(opts.checkpoint ?? '')}">
<h1>multirobust</h1>
<p class="muted">Adversarial robustness for multiple perturbation types, on the WebAssembly engine in this page (<span id="isolation"></span>).</p>
<p id="status">starting the engine thread…</p>
<pre id="error" hidden></pre>

<section id="model-panel">
<h2>Model</h2>
<label>checkpoint <input id="checkpoint" size="50" placeholder="path of a .safetensors file on the server"></label>
<label><input type="checkbox" id="use-trained" disabled> the model trained in this page</label>
<p id="model-note" class="muted"></p>
</section>

<section id="attack-panel">
<h2>Attack a test digit</h2>
<div id="digits"></div>
<p id="chosen" class="muted"></p>
<label>threat <select id="threat"><option value="linf">L∞</option><option value="l2">L2</option><option value="l1">L1</option><option value="rt">rotation-translation (±3 px, ±30°)</option></select></label>
<label>ε <input id="eps" type="number" step="any" min="0"></label>
<label>attack <select id="kind"></select></label>
<label>steps <input id="steps" type="number" min="1" placeholder="default"></label>
<button id="run-attack">Attack</button>
<p id="attack-status" class="muted"></p>
<div id="attack-result" hidden>
<figure><canvas id="clean"></canvas><figcaption id="clean-caption"></figcaption><div id="probs-clean"></div></figure>
<figure><canvas id="adv"></canvas><figcaption id="adv-caption"></figcaption><div id="probs-adv"></div></figure>
<figure><canvas id="delta"></canvas><figcaption id="delta-caption"></figcaption></figure>
</div>
</section>

<section id="train-panel">
<h2>Train a model here</h2>
<p class="muted">A short <code>sampled</code> run (one threat model per batch, drawn ∝ 1 − its running robust accuracy) over L∞ 0.3, L2 2 and L1 10, start-small, Adam 1e-3.</p>
<label>epochs <input id="epochs" type="number" min="1" value="1"></label>
<label>training images <input id="train-n" type="number" min="100" step="100" value="2000"></label>
<label>attack steps <input id="train-steps" type="number" min="1" value="3"></label>
<button id="run-train">Train</button>
<progress id="train-bar" value="0" max="1"></progress>
<p id="train-status" class="muted"></p>
<svg id="chart" width="420" height="160" aria-label="loss (grey), clean (green) and adversarial (red) batch accuracy"></svg>
<p><a id="download" download="multirobust-page.safetensors" hidden>download the trained model (safetensors)</a></p>
</section>

<section id="bench-panel">
<h2>Benchmark</h2>
<label>threads <input id="bench-threads" type="number" min="1" placeholder="default"></label>
<button id="run-bench">Run</button>
<p id="bench-status" class="muted"></p>
</section>

<section>
<h2>Log</h2>
<pre id="log"></pre>
<pre id="report" hidden></pre>
</section>
<script type="module" src="/dist/serve/page_script.js"></script>
</body>
</html>
`;
}
