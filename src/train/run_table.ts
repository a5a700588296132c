// The printed result of a training run (src/train/run.ts): clean accuracy, each threat model and the
// union with 95 % Wilson intervals, the attacks outside the union, the masking checks and the
// times; each attack's budget in a few words.
import { firstOrderOnly, withInterval } from '../eval/report.ts';
import type { EvalReport } from '../eval/evaluate.ts';
import { formatDuration } from './progress.ts';

/** The printed result: clean, each threat model, the union (95 % Wilson intervals), the extra rows, the times. */
export function resultTable(report: EvalReport, extra: EvalReport | null, trainSeconds: number, evalSeconds: number): string {
  const how = report.suite
    ? `suite ${report.suite}: ${report.attacks.map((a) => `${a.name} (${formatBudget(a.settings)})`).join(', ')}; each on the points the earlier ones left standing`
    : `attacks ${report.attacks.map((a) => a.name).join(', ')}; ${report.meta.tokenSteps ?? ''} steps`;
  const lines = [`robust accuracy on the first ${report.n} MNIST test images, 95 % Wilson intervals (${how})`, ''];
  const rows: [string, string][] = [['clean', withInterval(report.clean_accuracy, report.clean_interval)]];
  for (const [t, v] of Object.entries(report.threat_models)) {
    const atk = report.attacks.filter((a) => a.threat === t).map((a) => a.name.split(':')[0]).join(' + ');
    rows.push([`${t} (${atk})`, withInterval(v, report.threat_intervals[t])]);
  }
  rows.push([`union (${Object.keys(report.threat_models).join(', ')})`, withInterval(report.union_accuracy, report.union_interval)]);
  for (const a of extra?.attacks ?? []) rows.push([`${a.threat} (${a.name}), outside the union`, withInterval(a.robust_accuracy, a.interval)]);
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  for (const [label, value] of rows) lines.push(`${label.padEnd(width)}${value}`);
  const fo = firstOrderOnly(report);
  if (fo.length) lines.push('', `note: first-order attacks only for ${fo.join(', ')}; these figures may overstate robustness`);
  const masking = report.checks.filter((c) => c.name.startsWith('gradient masking'));
  if (masking.length) lines.push('', `masking checks: ${masking.map((c) => `${c.name.replace(/^gradient masking \((.*)\)$/, '$1')} ${c.ran === false ? 'not run' : c.ok ? 'ok' : 'SUSPECTED'}`).join(', ')}`);
  lines.push('', `time: training ${formatDuration(trainSeconds)}, evaluation ${formatDuration(evalSeconds)}, total ${formatDuration(trainSeconds + evalSeconds)}`);
  return lines.join('\n');
}

/** "50 steps", "3 targets × 50 steps", "1000 queries", "400 iterations × 1 candidate": an attack's budget in a few words. */
function formatBudget(s: Record<string, string | number | boolean>): string {
  if (s.queries !== undefined) return `${s.queries} queries`;
  // Decision-based: Boundary's iterations × candidates, Pointwise's restarts under a query cap.
  if (s.iterations !== undefined) return `${s.iterations} iterations × ${s.candidates} candidate${s.candidates === 1 ? '' : 's'}`;
  if (s.max_queries !== undefined) return `${s.restarts} run${s.restarts === 1 ? '' : 's'}, ≤ ${s.max_queries} queries`;
  if (s.transforms !== undefined) return `${s.transforms} transforms`;
  const runs = Number(s.restarts ?? 0) + Number(s.targets ?? 0);
  const what = Number(s.targets ?? 0) > 0 && !Number(s.restarts ?? 0) ? `${s.targets} targets` : `${runs} run${runs === 1 ? '' : 's'}`;
  return s.steps !== undefined ? `${what} × ${s.steps} steps` : what;
}
