// The evaluation's figures: the PNG grid (for the first k examples, the clean row, then for each
// attack its adversarial row (captioned with the prediction) and its perturbation row (blue −,
// red +)), and the accuracy-vs-ε SVG of a report's curves (eval --svg, train's eps.svg).
import { runAttack, type Attack } from '../attacks/attack.ts';
import { argmaxRows, logitsAt, type Classifier } from '../attacks/core.ts';
import { lineChartSvg } from '../report/plot.ts';
import { imageGridPng, type GridRow } from '../report/png.ts';
import { Tensor } from '../tensor.ts';
import type { Engine } from '../wasm/engine.ts';
import type { EvalData, EvalReport } from './evaluate.ts';

/** Robust accuracy vs ε, one line per threat model of report.curves (x: ε as a multiple of its attack's ε). */
export async function epsCurvesSvg(report: EvalReport, labels: { title: string; xLabel: string }): Promise<string> {
  const series = Object.entries(report.curves).map(([t, pts]) => {
    const atk = report.attacks.find((a) => a.threat === t)!;
    return { name: `${t} (ε = ${atk.eps})`, points: pts.map((p) => ({ x: p.eps / atk.eps!, y: p.robust_accuracy })) };
  });
  return lineChartSvg({ title: labels.title, xLabel: labels.xLabel, yLabel: 'robust accuracy', series, yDomain: [0, 1] });
}

/** PNG bytes of the grid (see the header); the attacks run again on the first k examples. */
export function evalGridPng(engine: Engine, model: Classifier, data: EvalData, attacks: Attack[], k: number): Uint8Array {
  const { height: h, width: w, channels: c } = data;
  const D = h * w * c;
  const x = data.images.slice(0, k * D), y = data.labels.slice(0, k);
  const split = (a: Float32Array) => Array.from({ length: k }, (_, i) => a.slice(i * D, (i + 1) * D));
  return engine.arena.scope(() => {
    const x0 = Tensor.from(engine, x, [k, h, w, c]);
    const clean = argmaxRows(logitsAt(model, x0), k);
    const rows: GridRow[] = [{ label: 'clean', images: split(x) }];
    const captions: string[][] = [Array.from(y, (l, i) => `y=${l} p=${clean[i]}`)];
    for (const atk of attacks) {
      const out = runAttack(atk, { engine, model, x0, y, ids: Int32Array.from({ length: k }, (_, i) => i) });
      const adv = out.adv.toArray();
      const pred = argmaxRows(engine.arena.scope(() => logitsAt(model, out.adv)), k);
      rows.push({ label: atk.name, images: split(adv) }, { label: 'delta', images: split(adv.map((v, i) => v - x[i])), kind: 'signed' });
      captions.push(Array.from(pred, (p) => `p=${p}`), Array.from({ length: k }, () => ''));
    }
    return imageGridPng({ height: h, width: w, channels: c as 1 | 3, rows, captions });
  });
}
