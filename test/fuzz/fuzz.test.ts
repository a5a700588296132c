// Issue 21 in `npm test`: the fuzz runner on a fixed budget (every case keeps the rule), the
// runner's watchdog (a hanging and a crashing case are caught and the run goes on), the regression
// corpus in test/fuzz/corpus/ (inputs that once broke the rule), and running out of WASM memory.
import { spawnAsync, type SpawnResult } from '../_helpers/spawn.ts';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, serializeSafetensors, toFloat32 } from '../../src/io/safetensors.ts';
import { loadModel, loadTrainingState, saveModel, saveTrainingState } from '../../src/nn/checkpoint.ts';
import { mnistCnn } from '../../src/nn/models.ts';
import { Adam } from '../../src/nn/optim.ts';
import * as ops from '../../src/ops/index.ts';
import { projectL1 } from '../../src/perturb.ts';
import { Tensor } from '../../src/tensor.ts';
import { datasetFromIdx } from '../../src/train/data.ts';
import { loadEngine } from '../../src/wasm/load.ts';
import { OutOfMemoryError } from '../../src/wasm/memory.ts';
import { KINDS } from './cases.ts';

const root = join(import.meta.dirname, '..', '..');
const viteNode = join(root, 'node_modules', 'vite-node', 'vite-node.mjs');

/** Runs the fuzz script (asynchronously: see spawnAsync), killed after 110 s. */
function run(args: string[], env: Record<string, string> = {}): Promise<SpawnResult> {
  return spawnAsync(process.execPath, [viteNode, 'test/fuzz/fuzz.ts', ...args], { cwd: root, env: { ...process.env, ...env }, timeout: 110_000 });
}

async function fuzz(args: string[], env: Record<string, string> = {}) {
  const r = await run([...args, '--json'], env);
  const lines = r.stdout.trim().split('\n');
  return { status: r.status, out: r.stdout + r.stderr, summary: JSON.parse(lines[lines.length - 1]) };
}

describe('fuzz runner', () => {
  it('1200 seeded cases, 150 of each kind: no failure, no hang, no crash', async () => {
    const { status, out, summary } = await fuzz(['--runs', '1200', '--seed', '1']);
    expect(summary.failures, out).toEqual([]);
    expect(status, out).toBe(0);
    expect(summary.cases).toBe(1200);
    for (const k of KINDS) expect(summary.byKind[k].cases, k).toBe(150);
  });

  it('a hanging case is killed after --timeout and a crashing one is reported; the run goes on', async () => {
    const { status, summary } = await fuzz(['--runs', '7', '--timeout', '2000'], { FUZZ_HANG_AT: '2', FUZZ_CRASH_AT: '4' });
    expect(status).toBe(1);
    expect(summary.cases).toBe(7);
    expect(summary.failures.map((f: { index: number; problem: string }) => [f.index, f.problem.split(':')[0]])).toEqual([[2, 'hang'], [4, 'the process died during the case (exit null, signal SIGKILL)']]);
  });

  it.each([
    [['--runs=-3x'], "fuzz: --runs must be an integer, got '-3x'"],
    [['--runs', '-3'], "fuzz: Option '--runs' argument is ambiguous."],
    [['--kinds', 'safetensors,bogus'], "fuzz: --kinds: unknown kind 'bogus' (kinds: safetensors, checkpoint, idx, tokens, flags, api, cli, onnx)"],
  ])('rejects bad flags %j with exit code 2 and one line', async (args, line) => {
    const r = await run(args);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(line);
  });
});

// ---------------------------------------------------------------------------------------------

interface Regression {
  found: string;
  entry: 'parseSafetensors' | 'loadModel' | 'loadTrainingState' | 'datasetFromIdx' | 'projectL1';
  header?: string;
  header_prefix_hex?: string;
  data_hex?: string;
  expect_error?: string;
  expect_metadata?: Record<string, string>;
  edit?: { tensor: string; index: number; value: string };
  add?: string;
  images?: { dims: number[]; data: number[] };
  labels?: { dims: number[]; data: number[] };
  delta?: number[];
  eps?: number;
  batch?: number;
}

const hex = (s = '') => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));

async function replay(r: Regression): Promise<unknown> {
  if (r.entry === 'parseSafetensors') {
    const head = new Uint8Array([...hex(r.header_prefix_hex), ...new TextEncoder().encode(r.header!)]);
    const data = hex(r.data_hex);
    const file = new Uint8Array(8 + head.length + data.length);
    new DataView(file.buffer).setBigUint64(0, BigInt(head.length), true);
    file.set(head, 8);
    file.set(data, 8 + head.length);
    return parseSafetensors(file, 'regression');
  }
  if (r.entry === 'projectL1') return projectL1(Float32Array.from(r.delta!), r.eps!, r.batch!);
  if (r.entry === 'datasetFromIdx') {
    return datasetFromIdx({ dims: r.images!.dims, data: Uint8Array.from(r.images!.data) }, { dims: r.labels!.dims, data: Uint8Array.from(r.labels!.data) }, 'regression');
  }
  // Checkpoints of the small CNN the fuzzer uses, edited as the regression says.
  const engine = await loadEngine({ threads: 1 });
  const widths = { c1: 2, c2: 2, hidden: 4 };
  const dir = mkdtempSync(join(tmpdir(), 'mr-regress-'));
  const path = join(dir, 'ckpt.safetensors');
  const donor = mnistCnn(engine, 1, widths);
  const opt = new Adam(donor.parameters(), { lr: 1e-3 });
  if (r.entry === 'loadModel') saveModel(path, donor);
  else saveTrainingState(path, donor, opt, { step: 3, epoch: 1, rng: 'abc' });
  const st = parseSafetensors(readFileSync(path));
  const tensors = Object.fromEntries([...st.tensors].map(([k, e]) => [k, { dtype: 'F32' as const, shape: e.shape, data: toFloat32(e) }]));
  if (r.edit) tensors[r.edit.tensor].data[r.edit.index] = Number(r.edit.value);
  if (r.add) tensors[r.add] = { dtype: 'F32', shape: [1], data: new Float32Array(1) };
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path, serializeSafetensors(tensors, st.metadata));
  const model = mnistCnn(engine, 2, widths);
  const before = model.parameters().map((p) => p.toArray());
  try {
    return r.entry === 'loadModel' ? loadModel(path, model) : loadTrainingState(path, model, new Adam(model.parameters(), { lr: 1e-3 }));
  } finally {
    // Loaded or not, a failed load must leave the model as it was.
    const after = model.parameters().map((p) => p.toArray());
    if (after.some((a, i) => a.some((v, j) => !Object.is(v, before[i][j]))) && r.expect_error) throw new Error('a failed load changed the model');
    await engine.close();
  }
}

describe('regression corpus (test/fuzz/corpus)', () => {
  const dir = join(import.meta.dirname, 'corpus');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

  it('holds the cases found so far', () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
  });

  it.each(files)('%s', async (file) => {
    const r = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Regression;
    if (r.expect_error) {
      await expect(replay(r)).rejects.toThrow(r.expect_error.replace(/\\/g, ''));
    } else {
      const st = (await replay(r)) as { metadata: Record<string, string> };
      expect(Object.entries(st.metadata)).toEqual(Object.entries(r.expect_metadata!));
    }
  });
});

describe('memory', () => {
  it('a batch too large for the engine says how much was asked and the limit; the engine stays usable', async () => {
    const engine = await loadEngine({ threads: 1, maximumMemoryMiB: 128 });
    try {
      const model = mnistCnn(engine, 0, { c1: 32, c2: 8, hidden: 16 });
      const before = engine.arena.stats().inUseBytes;
      const run = (n: number) => engine.arena.scope(() => model.call(Tensor.zeros(engine, [n, 28, 28, 1])).toArray());
      // conv1's output alone is 2000·28·28·32·4 bytes ≈ 200 MB > 128 MiB.
      let err: unknown;
      try {
        run(2000);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OutOfMemoryError);
      expect((err as Error).message).toMatch(/a request for \d+ bytes does not fit \(\d+ bytes in use, limit 134217728 bytes = 128 MiB; raise maximumMemoryMiB or use a smaller batch\)/);
      expect((err as OutOfMemoryError).requestBytes).toBeGreaterThan(128 * 2 ** 20 - (err as OutOfMemoryError).inUseBytes);
      // The failed call's scope freed what it had taken; a small batch runs and gives finite logits.
      expect(engine.arena.stats().inUseBytes).toBe(before);
      const logits = run(4);
      expect(logits.length).toBe(40);
      expect(logits.every(Number.isFinite)).toBe(true);
      expect(engine.arena.scope(() => ops.mean(Tensor.from(engine, [1, 2, 3], [3])).item())).toBe(2);
    } finally {
      await engine.close();
    }
  });
});
