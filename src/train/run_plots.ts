// The training curves of a run (curves.svg): loss, clean and adversarial batch accuracy over the
// steps of log.jsonl, and the held-out union at each evaluation.
import { lineChartSvg } from '../report/plot.ts';
import type { LogRecord } from './run_dir.ts';

/** Loss and accuracies over the steps, with the held-out union at each evaluation. */
export async function trainingCurvesSvg(records: LogRecord[]): Promise<string> {
  const steps = records.filter((r) => r.type === 'step' && !r.epochEnd);
  const evals = records.filter((r) => r.type === 'eval');
  const series = [
    { name: 'training loss (running mean)', points: steps.map((r) => ({ x: r.step, y: Number(r.loss) })) },
    { name: 'clean batch accuracy', points: steps.map((r) => ({ x: r.step, y: Number(r.clean) })) },
    { name: 'adversarial batch accuracy', points: steps.filter((r) => r.adv !== null).map((r) => ({ x: r.step, y: Number(r.adv) })) },
    { name: 'held-out union accuracy', points: evals.map((r) => ({ x: r.step, y: Number(r.union) })) },
  ].filter((s) => s.points.length > 0);
  return lineChartSvg({ title: 'Training', xLabel: 'step', yLabel: 'loss / accuracy', series });
}
