// npm run bench:attacks — each attack's own overhead: its gradient evaluations per second against
// the engine's plain input-gradient rate (∂ margin loss/∂x of the paper's CNN), and the forward-only
// attacks' queries per second (Square, the RT grid's transforms) against the plain forward rate, all
// at batch 100 in the same run. Targets (issue 26): APGD L∞/L2 ≥ 90 % of the input-gradient rate,
// Square ≥ 85 % of the forward rate.
//   npm run bench:attacks [-- --threads N] [--steps K (default 40, the PGD-40 of the evaluations)] [--checkpoint FILE] [--json FILE]
//                         [--only apgd,square (time only the attacks whose token contains one of these)]
// Attacks run through runAttack (restarts, worst-case tracking, the wrapper's final projection and
// re-scoring included) with earlyStop off, so every example takes every step. Before timing, each
// attack's output is checked against its threat model (ball and box). Timing: 3 rounds; in each,
// every attack is timed with tinybench back to back with its reference; the median ratio counts.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Bench } from 'tinybench';
import { grad, noGrad } from '../src/autograd.ts';
import { runAttack, type Attack } from '../src/attacks/attack.ts';
import { parseAttack } from '../src/attacks/parse.ts';
import { intFlag, parseOrExit, UsageError } from '../src/cli/flags.ts';
import { loadModel } from '../src/nn/checkpoint.ts';
import { mnistCnn } from '../src/nn/models.ts';
import { marginLoss, sum } from '../src/ops/index.ts';
import { Tensor } from '../src/tensor.ts';
import { loadMnist } from '../src/train/data.ts';
import { loadEngine } from '../src/wasm/load.ts';
import { fmt, markdownTable, medianMs } from './_util.ts';

const ROUNDS = 3;
const BATCH = 100;

interface Row {
  attack: string;
  unit: string;
  rate: number;
  reference: string;
  referenceRate: number;
  ratio: number;
  needed: number | null;
  /** The ratio in each round. */
  rounds: number[];
}

function parse(argv: string[]) {
  const opts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(threads|steps|checkpoint|json|only)$/.exec(argv[i]);
    if (!m || i + 1 >= argv.length) throw new UsageError(`unknown or incomplete argument '${argv[i]}' (flags: --threads N --steps K --checkpoint FILE --json FILE --only A,B)`);
    opts[m[1]] = argv[++i];
  }
  const only = opts.only === undefined ? null : opts.only.split(',').map((x) => x.trim()).filter(Boolean);
  if (only && !only.length) throw new UsageError('--only needs at least one name, e.g. --only apgd,square');
  return { threads: intFlag('threads', opts.threads, { min: 1 }) ?? 2, steps: intFlag('steps', opts.steps, { min: 10 }) ?? 40, checkpoint: opts.checkpoint, json: opts.json, only };
}

/** Max over rows of the norm of adv − x0 (l1, l2, linf) and the box, to validate before timing. */
function validate(atk: Attack, adv: Float32Array, x0: Float32Array, D: number): void {
  for (let i = 0; i < adv.length; i++) if (!(adv[i] >= 0 && adv[i] <= 1)) throw new Error(`${atk.name}: output outside [0, 1] at ${i}`);
  if (atk.eps === null) return;
  for (let r = 0; r < adv.length / D; r++) {
    let l1 = 0, l2 = 0, li = 0;
    for (let j = r * D; j < (r + 1) * D; j++) {
      const d = Math.abs(adv[j] - x0[j]);
      l1 += d; l2 += d * d; li = Math.max(li, d);
    }
    const norm = atk.threat === 'L1' ? l1 : atk.threat === 'L2' ? Math.sqrt(l2) : li;
    if (norm > atk.eps * (1 + 1e-5) + 1e-4) throw new Error(`${atk.name}: row ${r} has norm ${norm} > ε = ${atk.eps}`);
  }
}

async function main(): Promise<void> {
  const { threads, steps, checkpoint, json, only } = parseOrExit('bench:attacks', () => parse(process.argv.slice(2)));
  const engine = await loadEngine({ threads });
  const model = mnistCnn(engine, 0);
  if (checkpoint) loadModel(checkpoint, model);
  for (const p of model.parameters()) p.requiresGrad = false;
  const test = loadMnist('test');
  const D = 28 * 28;
  const xs = test.images.slice(0, BATCH * D), y = test.labels.slice(0, BATCH);
  const ids = Int32Array.from({ length: BATCH }, (_, i) => i);
  // Square runs every query on every example with earlyStop off (2 queries per gradient step: its rate is per query).
  const squareQueries = 2 * steps;
  const all: [Attack, 'grad' | 'forward', number | null][] = [
    [parseAttack(`linf:0.3:steps=${steps}`), 'grad', 0.9],
    [parseAttack(`l2:2:steps=${steps}`), 'grad', 0.9],
    [parseAttack(`l1:10:steps=${steps}`), 'grad', 0.75],
    [parseAttack(`l1apgd:10:steps=${steps}`), 'grad', 0.75],
    [parseAttack(`apgd-linf:0.3:steps=${steps}`), 'grad', 0.9],
    [parseAttack(`apgd-l2:2:steps=${steps}`), 'grad', 0.9],
    [parseAttack(`apgdt-linf:0.3:steps=${steps}:targets=1`), 'grad', null],
    [parseAttack(`rtpgd:3:30:steps=${steps}:restarts=1`), 'grad', null],
    [parseAttack(`affine(linf:0.3+l1:10):steps=${steps}`), 'grad', null],
    [parseAttack('rt:3:30:grid=3x3x5'), 'forward', null],
    [parseAttack(`square-linf:0.3:queries=${squareQueries}`), 'forward', 0.85],
    [parseAttack(`square-l2:2:queries=${squareQueries}`), 'forward', 0.85],
    [parseAttack(`square-l1:10:queries=${squareQueries}`), 'forward', 0.85],
  ];
  const attacks = only ? all.filter(([a]) => only.some((o) => a.name.includes(o))) : all;
  if (!attacks.length) throw new UsageError(`--only ${only!.join(',')}: no attack's token contains these`);
  const counts = new Map<string, number>();
  const tasks: [string, () => void][] = [
    ['input gradient', () => engine.arena.scope(() => {
      const x = Tensor.from(engine, xs, [BATCH, 28, 28, 1]);
      grad(() => sum(marginLoss(model.call(x), y)), [x]);
    })],
    ['forward', () => engine.arena.scope(() => noGrad(() => model.call(Tensor.from(engine, xs, [BATCH, 28, 28, 1])).toArray()))],
  ];
  for (const [atk, kind] of attacks) {
    const run = () => engine.arena.scope(() => {
      const x0 = Tensor.from(engine, xs, [BATCH, 28, 28, 1]);
      const out = runAttack(atk, { engine, model, x0, y, ids, earlyStop: false });
      counts.set(atk.name, kind === 'grad' ? out.gradEvals : out.forwards);
      return out.adv.toArray();
    });
    validate(atk, run(), xs, D);
    tasks.push([atk.name, () => void run()]);
  }
  console.error(`bench:attacks: ${engine.threads} threads, build ${engine.build}, batch ${BATCH}, ${steps} steps, model ${checkpoint ?? 'mnistCnn(seed 0), untrained'}; outputs validated; timing ${ROUNDS} rounds… (load average ${loadavg().map((v) => v.toFixed(2)).join(' ')})`);
  // Side by side: each attack is timed in a pair with its reference (the plain input gradient, or
  // the plain forward for the grid), back to back, in every round; the ratio of a pair sees the
  // same machine load on both sides. Reported: the median ratio over the rounds, and the rates of
  // the round that gave it.
  const ratios = new Map<string, { ratio: number; rate: number; ref: number }[]>();
  const ref = { grad: tasks[0][1], forward: tasks[1][1] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [atk, kind] of attacks) {
      const bench = new Bench({ time: 0, iterations: 3, warmupIterations: 1, warmupTime: 0 });
      bench.add('reference', ref[kind]);
      bench.add(atk.name, tasks.find(([n]) => n === atk.name)![1]);
      await bench.run();
      const refRate = BATCH / (medianMs(bench.getTask('reference')) / 1000);
      const rate = counts.get(atk.name)! / (medianMs(bench.getTask(atk.name)) / 1000);
      ratios.set(atk.name, [...(ratios.get(atk.name) ?? []), { ratio: rate / refRate, rate, ref: refRate }]);
    }
  }
  const median = (name: string) => {
    const r = [...ratios.get(name)!].sort((a, b) => a.ratio - b.ratio);
    return r[r.length >> 1];
  };
  const rows: Row[] = attacks.map(([atk, kind, needed]) => {
    const m = median(atk.name);
    return { attack: atk.name, unit: kind === 'grad' ? 'grad evals/s' : atk.name.startsWith('square') ? 'queries/s' : 'transforms/s', rate: m.rate, reference: kind === 'grad' ? 'input gradients/s' : 'forwards/s', referenceRate: m.ref, ratio: m.ratio, needed, rounds: ratios.get(atk.name)!.map((r) => r.ratio) };
  });
  const gradRate = Math.max(...rows.filter((r) => r.unit === 'grad evals/s').map((r) => r.referenceRate));
  const fwdRate = Math.max(...rows.filter((r) => r.unit !== 'grad evals/s').map((r) => r.referenceRate));
  console.log(`plain input gradient: up to ${fmt(gradRate, 0)} img/s; plain forward: up to ${fmt(fwdRate, 0)} img/s (${engine.threads} threads, batch ${BATCH})\n`);
  console.log(markdownTable(['attack', 'rate', 'reference (same pair)', 'ratio (median)', 'ratio per round', 'needed', 'check'],
    rows.map((r) => [r.attack, `${fmt(r.rate, 0)} ${r.unit}`, `${fmt(r.referenceRate, 0)} ${r.reference}`, `${fmt(100 * r.ratio, 1)} %`, r.rounds.map((x) => fmt(100 * x, 0)).join(' / '), r.needed === null ? '—' : `≥ ${100 * r.needed} %`, r.needed === null ? '' : r.ratio >= r.needed ? 'pass' : 'FAIL'])));
  console.log(`\nload average after: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  if (json) writeFileSync(json, `${JSON.stringify({ date: new Date().toISOString(), threads: engine.threads, build: engine.build, batch: BATCH, steps, inputGradientRate: gradRate, forwardRate: fwdRate, attacks: rows }, null, 2)}\n`);
  await engine.close();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
