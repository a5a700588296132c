// npm run bench:strategies — the cost of each multi-perturbation training strategy in one run:
// training images/s of the paper's CNN (batch 100, Adam) with the three threat models of
// `npm start` (linf:0.3, l2:2, l1:10), input-gradient evaluations and gradient-free forwards per
// training image, and each strategy's time per training image relative to `single` (L∞ alone).
//   npm run bench:strategies [-- --threads N] [--steps K] [--batches B] [--json FILE]
// Each strategy trains a fresh model (seed 0) on the first B·100 MNIST training images through
// trainModel, the loop `multirobust train` runs; `none` (standard training) is the floor. Timing:
// 3 interleaved rounds, per strategy the round with the highest images/s (steps only, not the
// model's construction). Threading: --threads kernel threads (default 2).
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { intFlag, parseOrExit, UsageError } from '../src/cli/flags.ts';
import { loadMnist } from '../src/train/data.ts';
import type { Strategy } from '../src/train/strategies.ts';
import { trainModel } from '../src/train/train.ts';
import { loadEngine } from '../src/wasm/load.ts';
import { markdownTable } from './_util.ts';

const ROUNDS = 3;
const BATCH = 100;
const ATTACKS = ['linf:0.3', 'l2:2', 'l1:10'];
const STRATEGIES: { strategy: Strategy; attacks: string[] }[] = [
  { strategy: 'none', attacks: [] },
  { strategy: 'single', attacks: ['linf:0.3'] },
  { strategy: 'avg', attacks: ATTACKS },
  { strategy: 'max', attacks: ATTACKS },
  { strategy: 'alternate', attacks: ATTACKS },
  { strategy: 'msd', attacks: ATTACKS },
  { strategy: 'sampled', attacks: ATTACKS },
];

function parse(argv: string[]) {
  const opts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(threads|steps|batches|json)$/.exec(argv[i]);
    if (!m || i + 1 >= argv.length) throw new UsageError(`unknown or incomplete argument '${argv[i]}' (flags: --threads N --steps K --batches B --json FILE)`);
    opts[m[1]] = argv[++i];
  }
  return {
    threads: intFlag('threads', opts.threads, { min: 1 }) ?? 2,
    steps: intFlag('steps', opts.steps, { min: 1 }) ?? 10,
    batches: intFlag('batches', opts.batches, { min: 1 }) ?? 6,
    json: opts.json,
  };
}

async function main() {
  const { threads, steps, batches, json } = parseOrExit('bench:strategies', () => parse(process.argv.slice(2)));
  const engine = await loadEngine({ threads });
  const full = loadMnist('train');
  const n = batches * BATCH;
  const train = { ...full, n, images: full.images.subarray(0, n * 784), labels: full.labels.subarray(0, n) };
  console.error(`bench:strategies: paper CNN, ${engine.threads} threads, build ${engine.build}, batch ${BATCH}, ${batches} batches per round, attacks ${ATTACKS.join(', ')} at ${steps} steps (msd: ${steps} iterations); ${ROUNDS} rounds… (load average ${loadavg().map((v) => v.toFixed(2)).join(' ')})`);
  const best = new Map<Strategy, { ips: number; grads: number; forwards: number }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of STRATEGIES) {
      const r = trainModel(engine, { ...s, attackSteps: steps, epochs: 1, batch: BATCH, seed: 0, lr: 1e-3 }, train);
      r.model.dispose();
      const e = r.epochs[0];
      const prev = best.get(s.strategy);
      if (!prev || e.imagesPerSec > prev.ips) best.set(s.strategy, { ips: e.imagesPerSec, grads: e.gradEvalsPerImage, forwards: e.forwardsPerImage });
    }
  }
  await engine.close();
  const single = best.get('single')!;
  const rows = STRATEGIES.map(({ strategy }) => {
    const b = best.get(strategy)!;
    return { strategy, imagesPerSec: b.ips, gradEvalsPerImage: b.grads, forwardsPerImage: b.forwards, costVsSingle: single.ips / b.ips };
  });
  console.log(markdownTable(
    ['strategy', 'training images/s', 'input gradients / image', 'forwards / image', 'time per image vs single'],
    rows.map((r) => [r.strategy, r.imagesPerSec.toFixed(0), r.gradEvalsPerImage.toFixed(1), r.forwardsPerImage.toFixed(1), `${r.costVsSingle.toFixed(2)}×`]),
  ));
  const sampled = rows.find((r) => r.strategy === 'sampled')!;
  console.log(`\nsampled costs ${sampled.costVsSingle.toFixed(2)}× single per training image (target ≤ 1.3×), independent of the number of threat models; max and avg pay for all ${ATTACKS.length}.`);
  if (json) writeFileSync(json, `${JSON.stringify({ threads: engine.threads, build: engine.build, steps, batches, rows }, null, 2)}\n`);
}

await main();
