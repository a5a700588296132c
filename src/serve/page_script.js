// The script of the page `multirobust serve` serves (src/serve/page.ts holds its HTML). Plain
// browser JavaScript: it starts the engine thread (app_worker.js, a module Worker; the engine blocks
// in Atomics.wait, which a page's main thread may not) and talks to it by messages. Panels: the URL
// contract (?…&run=1), attacks on a test digit, training in the page, the benchmark.
const $ = (id) => document.getElementById(id);
const SCALE = 4;

$('isolation').textContent = self.crossOriginIsolated ? 'cross-origin isolated: worker threads available' : 'not cross-origin isolated: one thread';
const worker = new Worker('/dist/serve/app_worker.js', { type: 'module' });
const pending = new Map();
const progressListeners = new Set();
let nextId = 1;
const ready = new Promise((resolve) => {
  worker.addEventListener('message', (e) => {
    const m = e.data;
    if (m.op === 'ready') return resolve();
    if (m.op === 'log') return void ($('log').textContent += m.line + '\n');
    if (m.op === 'progress') return progressListeners.forEach((f) => f(m));
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  });
});
worker.addEventListener('error', (e) => showError('engine thread failed: ' + (e.message || 'its module did not load')));

/** One operation of the engine thread (src/serve/app_worker.ts). */
async function call(msg) {
  await ready;
  return new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    worker.postMessage({ ...msg, id });
  });
}
window.multirobust = { call, ready };

function showError(text) {
  $('error').hidden = false;
  $('error').textContent = text;
}

/** Draws a 28×28 image (values in [0, 1], or signed with `signed`: red +, blue −) on a canvas. */
function drawDigit(canvas, pixels, signed = false) {
  canvas.width = canvas.height = 28 * SCALE;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(28, 28);
  let peak = 1e-12;
  if (signed) for (const v of pixels) peak = Math.max(peak, Math.abs(v));
  for (let i = 0; i < 784; i++) {
    const v = pixels[i];
    let r, g, b;
    if (signed) {
      const t = Math.min(1, Math.abs(v) / peak);
      [r, g, b] = v >= 0 ? [255, 255 * (1 - t), 255 * (1 - t)] : [255 * (1 - t), 255 * (1 - t), 255];
    } else r = g = b = 255 * (1 - v);
    img.data.set([r, g, b, 255], i * 4);
  }
  const tmp = new OffscreenCanvas(28, 28);
  tmp.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, 28 * SCALE, 28 * SCALE);
}

function probBars(el, probs, label) {
  el.innerHTML = '';
  probs.forEach((p, k) => {
    const row = document.createElement('div');
    row.className = 'bar' + (k === label ? ' truth' : '');
    row.innerHTML = '<span>' + k + '</span><i style="width:' + (100 * p).toFixed(1) + '%"></i><b>' + (100 * p).toFixed(1) + ' %</b>';
    el.appendChild(row);
  });
}

// ---- model choice ------------------------------------------------------------------------------
const defaultCheckpoint = document.body.dataset.checkpoint || '';
$('checkpoint').value = new URLSearchParams(location.search).get('checkpoint') || defaultCheckpoint;
function currentModel() {
  if ($('use-trained').checked) return { model: 'trained' };
  return { model: 'checkpoint', checkpoint: $('checkpoint').value.trim() };
}
if (!$('checkpoint').value) $('model-note').textContent = 'No checkpoint given: train a model below first (or name a .safetensors file).';

// ---- attack panel ------------------------------------------------------------------------------
const ATTACKS = {
  linf: [['apgd-linf', 'APGD-CE'], ['apgdt-linf', 'APGD-T (targeted DLR)'], ['linf', 'PGD'], ['square-linf', 'Square (score-based)']],
  l2: [['apgd-l2', 'APGD-CE'], ['apgdt-l2', 'APGD-T (targeted DLR)'], ['l2', 'PGD'], ['square-l2', 'Square (score-based)'], ['boundary', 'Boundary (decision-based)']],
  l1: [['apgd-l1', 'L1-APGD'], ['apgdt-l1', 'L1-APGD-T'], ['l1', 'SLIDE'], ['square-l1', 'Square-L1'], ['pointwise', 'Pointwise (decision-based)']],
  rt: [['rtpgd', 'RT PGD (first-order)'], ['rt', 'grid of 775 transforms']],
};
const DEFAULT_EPS = { linf: 0.3, l2: 2, l1: 10, rt: null };
let selected = 0;

function fillAttacks() {
  const threat = $('threat').value;
  $('kind').innerHTML = ATTACKS[threat].map(([k, name]) => '<option value="' + k + '">' + name + '</option>').join('');
  $('eps').disabled = threat === 'rt';
  $('eps').value = threat === 'rt' ? '' : DEFAULT_EPS[threat];
}
$('threat').addEventListener('change', fillAttacks);
fillAttacks();

function attackToken() {
  const threat = $('threat').value, kind = $('kind').value;
  if (threat === 'rt') return kind + ':3:30';
  const eps = Number($('eps').value);
  if (!(eps > 0)) throw new Error('ε must be a positive number');
  return kind + ':' + eps + ($('steps').value ? ':steps=' + Number($('steps').value) : '');
}

async function showDigits() {
  const r = await call({ op: 'digits', n: 40 });
  const grid = $('digits');
  grid.innerHTML = '';
  r.labels.forEach((label, i) => {
    const c = document.createElement('canvas');
    c.title = 'test image ' + i + ' (label ' + label + ')';
    drawDigit(c, r.images.slice(i * 784, (i + 1) * 784));
    c.className = i === selected ? 'digit chosen' : 'digit';
    c.addEventListener('click', () => {
      selected = i;
      grid.querySelectorAll('canvas').forEach((x, j) => (x.className = j === i ? 'digit chosen' : 'digit'));
      $('chosen').textContent = 'test image ' + i + ', label ' + label;
    });
    grid.appendChild(c);
  });
  $('chosen').textContent = 'test image ' + selected + ', label ' + r.labels[selected];
}

$('run-attack').addEventListener('click', async () => {
  let token;
  try {
    token = attackToken();
  } catch (err) {
    return void ($('attack-status').textContent = err.message);
  }
  $('attack-status').textContent = 'attacking with ' + token + '…';
  const r = await call({ op: 'attack', ...currentModel(), index: selected, token, seed: 0 });
  if (!r.ok) return void ($('attack-status').textContent = r.error);
  drawDigit($('clean'), r.clean);
  drawDigit($('adv'), r.adv);
  drawDigit($('delta'), r.adv.map((v, i) => v - r.clean[i]), true);
  const argmax = (p) => p.indexOf(Math.max(...p));
  $('clean-caption').textContent = 'clean: predicted ' + argmax(r.probsClean) + ' (label ' + r.label + ')';
  $('adv-caption').textContent = 'adversarial: predicted ' + argmax(r.probsAdv);
  $('delta-caption').textContent = 'perturbation, magnified: L∞ ' + r.norms.linf.toFixed(3) + ', L2 ' + r.norms.l2.toFixed(3) + ', L1 ' + r.norms.l1.toFixed(2);
  probBars($('probs-clean'), r.probsClean, r.label);
  probBars($('probs-adv'), r.probsAdv, r.label);
  $('attack-status').textContent = r.attack + ': ' + (r.fooled ? 'the model is fooled' : 'the model resists') + ' (' + r.seconds.toFixed(2) + ' s)';
  $('attack-result').hidden = false;
});

// ---- training panel ----------------------------------------------------------------------------
const curve = { loss: [], clean: [], adv: [] };
function drawChart() {
  const svg = $('chart'), W = 420, H = 160, n = curve.loss.length;
  if (!n) return void (svg.innerHTML = '');
  const maxLoss = Math.max(...curve.loss, 1e-9);
  const line = (vals, scale, color) => '<polyline fill="none" stroke="' + color + '" stroke-width="1.5" points="' +
    vals.map((v, i) => ((i / Math.max(1, n - 1)) * W).toFixed(1) + ',' + (H - (v / scale) * H).toFixed(1)).join(' ') + '"/>';
  svg.innerHTML = '<rect width="' + W + '" height="' + H + '" fill="#fafafa" stroke="#ccc"/>' +
    line(curve.loss, maxLoss, '#555') + line(curve.clean, 1, '#2a7') + line(curve.adv.map((v) => v ?? 0), 1, '#c33') +
    '<text x="' + (W - 160) + '" y="' + (H - 36) + '" font-size="11" fill="#555">loss (top: ' + maxLoss.toFixed(2) + ')</text>' +
    '<text x="' + (W - 160) + '" y="' + (H - 22) + '" font-size="11" fill="#2a7">clean batch accuracy</text>' +
    '<text x="' + (W - 160) + '" y="' + (H - 8) + '" font-size="11" fill="#c33">adversarial batch accuracy</text>';
}
progressListeners.add((p) => {
  $('train-bar').value = p.step / p.totalSteps;
  $('train-status').textContent = 'epoch ' + p.epoch + '/' + p.epochs + ', step ' + p.step + '/' + p.totalSteps + ': loss ' + p.loss.toFixed(3) +
    ', clean ' + (100 * p.cleanAcc).toFixed(1) + ' %, adversarial ' + (p.advAcc === null ? '–' : (100 * p.advAcc).toFixed(1) + ' %') + ', ' + p.imagesPerSec.toFixed(0) + ' images/s';
  curve.loss.push(p.loss);
  curve.clean.push(p.cleanAcc);
  curve.adv.push(p.advAcc);
  drawChart();
});
$('run-train').addEventListener('click', async () => {
  curve.loss.length = curve.clean.length = curve.adv.length = 0;
  $('run-train').disabled = true;
  $('train-status').textContent = 'loading the training set…';
  const r = await call({ op: 'train', epochs: Number($('epochs').value), trainN: Number($('train-n').value), steps: Number($('train-steps').value), seed: 0 });
  $('run-train').disabled = false;
  if (!r.ok) return void ($('train-status').textContent = r.error);
  $('train-status').textContent = 'trained in ' + r.seconds.toFixed(1) + ' s: clean accuracy ' + (100 * r.testAccuracy).toFixed(1) + ' % on the first ' + r.testN + ' test images. Attack it above.';
  $('use-trained').disabled = false;
  $('use-trained').checked = true;
  const url = URL.createObjectURL(new Blob([r.safetensors], { type: 'application/octet-stream' }));
  $('download').href = url;
  $('download').hidden = false;
});

// ---- benchmark panel ---------------------------------------------------------------------------
$('run-bench').addEventListener('click', async () => {
  $('bench-status').textContent = 'timing…';
  const r = await call({ op: 'bench', threads: $('bench-threads').value ? Number($('bench-threads').value) : undefined });
  if (!r.ok) return void ($('bench-status').textContent = r.error);
  $('bench-status').textContent = r.threads + ' thread(s), ' + r.build + ' build, batch ' + r.batch + ': forward ' + r.forward.toFixed(0) +
    ' images/s, input gradient ' + r.inputGradient.toFixed(0) + ' images/s, training step ' + r.trainingStep.toFixed(0) + ' images/s';
});

// ---- start -------------------------------------------------------------------------------------
await ready;
$('status').textContent = 'engine thread ready';
showDigits().catch((err) => showError(String(err)));
const q = new URLSearchParams(location.search);
if (q.get('run') === '1') {
  const args = { op: 'eval' };
  for (const k of ['checkpoint', 'attacks', 'suite', 'threats', 'n', 'seed', 'threads', 'batch', 'steps', 'restarts', 'cascade']) if (q.has(k)) args[k] = q.get(k);
  args.checkpoint ??= defaultCheckpoint || undefined;
  $('status').textContent = 'evaluating…';
  const t0 = performance.now();
  const r = await call(args);
  if (r.ok) {
    $('report').hidden = false;
    $('report').textContent = JSON.stringify(r.report, null, 2);
    $('status').textContent = 'evaluation done in ' + ((performance.now() - t0) / 1000).toFixed(1) + ' s';
  } else {
    showError(r.error);
    $('status').textContent = 'evaluation failed';
  }
}
