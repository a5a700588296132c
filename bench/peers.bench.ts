// npm run bench:peers [-- --json FILE] [--jax auto|both|im2col|conv|none] [--no-tfjs] [--time MS] [--jax-sgd]
// The JS peers of issue 9 on the paper's MNIST CNN at batch 100, one thread: TensorFlow.js 4.22 (wasm
// backend) and jax-js 0.1.25 (wasm). Validated against a float64 reference and each other before
// timing; prints a markdown table and, with --json, writes the results. The timing logic lives in
// bench/peers/results.ts (peerResults), which bench/e2e.bench.ts reuses with our engine as an extra peer.
import { writeFileSync } from 'node:fs';
import { numberFlag, parseOrExit, UsageError } from '../src/cli/flags.ts';
import { peerResults, peerTable, type PeerOptions } from './peers/results.ts';

function parseArgs(argv: string[]): PeerOptions & { json?: string } {
  const opts: PeerOptions & { json?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a}: missing value`);
      return v;
    };
    if (a === '--json') opts.json = value();
    else if (a === '--jax') {
      const v = value();
      if (!['auto', 'both', 'im2col', 'conv', 'none'].includes(v)) throw new UsageError(`--jax must be auto|both|im2col|conv|none, got '${v}'`);
      opts.jax = v as PeerOptions['jax'];
    } else if (a === '--jax-sgd') opts.jaxOptimizer = 'sgd';
    else if (a === '--no-tfjs') opts.tfjs = false;
    else if (a === '--time') opts.timeMs = numberFlag('time', value(), { gt: 0 });
    else throw new UsageError(`unknown argument '${a}'`);
  }
  return opts;
}

const opts = parseOrExit('bench:peers', () => parseArgs(process.argv.slice(2).filter((a) => !a.endsWith('peers.bench.ts'))));
const res = await peerResults(opts);
console.log(`\nbench:peers — MNIST CNN, batch ${res.batch}, one thread each, img/s: median call of the fastest of 3 rounds [slowest–fastest call of all rounds], ${new Date().toISOString()}`);
console.log(peerTable(res));
if (res.jaxBest) console.log(`\njax-js: the ${res.jaxBest.variant} variant is timed (${res.jaxBest.note}).`);
if (opts.json) {
  writeFileSync(opts.json, JSON.stringify({ ...res, threads: 1 }, null, 2) + '\n');
  console.log(`wrote ${opts.json}`);
}
