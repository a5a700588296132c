// npm run bench:browser — the engine in headless Chromium vs in Node, same run: images/s of the
// paper's CNN's forward pass, input gradient and Adam training step at batch 100 (benchEngine,
// src/serve/selftest.ts: the same code times both sides, median of 7 calls after a warm-up), on
// 2 threads (--threads T). Rounds alternate Node and Chromium (ROUNDS, --rounds R), and each side's
// figure is its best round: a busy moment of the host then lands on one round, not on one side.
// Prints a table with the Chromium/Node ratios; --json FILE writes the figures.
//
//   npm run bench:browser -- [--threads 2] [--rounds 3] [--json FILE]
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { benchEngine, type EngineRates } from '../src/serve/selftest.ts';
import { loadMnist } from '../src/train/data.ts';
import { loadEngine } from '../src/wasm/load.ts';
import { callPage, startBrowser } from '../test/browser/_browser.ts';
import { markdownTable } from './_util.ts';

const { values } = parseArgs({ options: { threads: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' }, json: { type: 'string' } } });
const threads = Number(values.threads), rounds = Number(values.rounds);
if (!(Number.isInteger(threads) && threads >= 1 && Number.isInteger(rounds) && rounds >= 1)) {
  console.error('bench:browser: --threads and --rounds must be integers ≥ 1');
  process.exit(2);
}
const KEYS = ['forward', 'inputGradient', 'trainingStep'] as const;
const LABELS: Record<(typeof KEYS)[number], string> = { forward: 'forward', inputGradient: 'input gradient', trainingStep: 'training step' };

const test = loadMnist('test');
const images = test.images.subarray(0, 100 * 784), labels = test.labels.subarray(0, 100);
const engine = await loadEngine({ threads });
const session = await startBrowser();
const page = await session.open('/');
const best: Record<'node' | 'chromium', EngineRates> = { node: { forward: 0, inputGradient: 0, trainingStep: 0 }, chromium: { forward: 0, inputGradient: 0, trainingStep: 0 } };
let info = '';
console.error(`bench:browser: ${threads} thread(s), ${rounds} rounds (load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
try {
  for (let r = 0; r < rounds; r++) {
    const node = benchEngine(engine, images, labels);
    const web = await callPage<EngineRates & { threads: number; build: string }>(page, { op: 'bench', threads, batch: 100 });
    if (!web.ok) throw new Error(web.error);
    if (web.threads !== threads) throw new Error(`Chromium ran ${web.threads} thread(s), not ${threads} (is the page cross-origin isolated?)`);
    info = `Node ${process.version} build ${engine.build}, Chromium build ${web.build}`;
    for (const k of KEYS) {
      best.node[k] = Math.max(best.node[k], node[k]);
      best.chromium[k] = Math.max(best.chromium[k], web[k]);
    }
    console.error(`  round ${r + 1}: ${KEYS.map((k) => `${LABELS[k]} ${node[k].toFixed(0)} / ${web[k].toFixed(0)}`).join(', ')} images/s (Node / Chromium)`);
  }
} finally {
  await page.close();
  await session.close();
  await engine.close();
}
console.log(`Engine in Chromium vs Node, the paper's CNN at batch 100, ${threads} thread(s), best of ${rounds} alternating rounds (${info}):\n`);
console.log(markdownTable(['', 'Node images/s', 'Chromium images/s', 'Chromium ÷ Node'], KEYS.map((k) => [LABELS[k], best.node[k].toFixed(0), best.chromium[k].toFixed(0), `${(100 * best.chromium[k] / best.node[k]).toFixed(1)} %`])));
if (values.json) writeFileSync(values.json, `${JSON.stringify({ threads, rounds, info, date: new Date().toISOString(), loadavg: loadavg(), ...best }, null, 2)}\n`);
