// The final evaluation of a training run (src/train/run.ts) on the first `testN` test images: the
// suite over the test threat models (or the test tokens with `testSteps` steps), the extra attacks
// outside the union, report.json, the accuracy-vs-ε curves (eps.svg, first `curveN` images) and
// the adversarial grid (grid.png, 8 images).
import { parseAttacks } from '../attacks/parse.ts';
import type { Classifier } from '../attacks/core.ts';
import { evaluate, type EvalData, type EvalReport } from '../eval/evaluate.ts';
import { epsCurvesSvg, evalGridPng } from '../eval/figures.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import type { Engine } from '../wasm/engine.ts';
import type { ImageDataset } from './data.ts';
import type { RunConfig, RunPaths } from './run_dir.ts';

/** Examples per batch of the final suite evaluation (Square and APGD-T see only the points still standing). */
const SUITE_BATCH = 250;

export const toEval = (ds: ImageDataset): EvalData => ({ images: ds.images, labels: ds.labels, height: ds.height, width: ds.width, channels: ds.channels });

/** Evaluates the trained model (see the header), writing report.json, eps.svg and grid.png; `say` gets the progress lines. */
export async function finalEvaluation(engine: Engine, model: Classifier, c: RunConfig, test: ImageDataset, paths: RunPaths, say: (s: string) => void): Promise<{ report: EvalReport; extra: EvalReport | null; curve: EvalReport | null }> {
  const testData = toEval(test);
  const suite = c.testSuite ?? undefined;
  say(`final evaluation: first ${c.testN} test images, ${suite ? `suite ${suite} over ${c.testAttacks.join(', ')}` : `${c.testSteps}-step attacks ${c.testAttacks.join(', ')}`}`);
  const meta = { tokenSteps: c.testSteps, strategy: c.strategy, trainAttacks: c.attacks, epochs: c.epochs };
  // A suite's later attacks run on the points still standing: larger batches keep their forwards full.
  const report = suite
    ? evaluate(engine, model, testData, { suite, threats: c.testAttacks, n: c.testN, batch: Math.max(c.batch, SUITE_BATCH), seed: c.seed, checkpoint: paths.last, log: say, meta })
    : evaluate(engine, model, testData, { attacks: c.testAttacks, n: c.testN, batch: c.batch, seed: c.seed, tokenDefaults: { steps: c.testSteps, restarts: 1 }, checkpoint: paths.last, log: say, meta });
  const extra = c.extraAttacks.length
    ? evaluate(engine, model, testData, { attacks: c.extraAttacks, n: c.testN, batch: c.batch, seed: c.seed, tokenDefaults: { steps: c.testSteps, restarts: 1 }, checkpoint: paths.last, log: say })
    : null;
  if (extra) report.meta.outsideUnion = extra.attacks.map((a) => ({ name: a.name, threat: a.threat, robust_accuracy: a.robust_accuracy }));
  writeFileAtomic(paths.report, `${JSON.stringify(report, null, 2)}\n`);
  const curve = c.curveN > 0 ? evaluate(engine, model, testData, { attacks: c.testAttacks, n: Math.min(c.curveN, c.testN), batch: c.batch, seed: c.seed, tokenDefaults: { steps: c.testSteps, restarts: 1 }, curves: [0.25, 0.5, 1, 1.5, 2] }) : null;
  if (curve) writeFileAtomic(paths.eps, await epsCurvesSvg(curve, { title: `Test robust accuracy vs ε (first ${curve.n} images)`, xLabel: 'ε / trained ε' }));
  writeFileAtomic(paths.grid, evalGridPng(engine, model, testData, parseAttacks([...c.testAttacks, ...c.extraAttacks].join(','), { steps: c.testSteps, seed: c.seed }), 8));
  return { report, extra, curve };
}
