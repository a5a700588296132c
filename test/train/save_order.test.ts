// A run's log.jsonl must never lag its state file: a run killed after the state was written but
// before the log was rewritten resumed past the records of the last steps, which were then missing
// for good (found by test/cli/train.test.ts's SIGKILL test, which lost step 10's record once). The
// hook that writes the log now runs before the state is written: killed in between, the state is
// the older one and the resume drops the log's newer records and writes them again.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { loadMnist, firstN } from '../../src/train/data.ts';
import { trainModel } from '../../src/train/train.ts';
import { loadEngine, type Engine } from '../../src/wasm/load.ts';

let engine: Engine;
afterAll(async () => {
  await engine?.close();
});

describe('the training state and its log', () => {
  it('beforeSave runs before the state file is written, with the step it will hold', async () => {
    engine = await loadEngine({ threads: 1 });
    const statePath = join(mkdtempSync(join(tmpdir(), 'save-order-')), 'state.safetensors');
    const seen: { step: number; stateStep: number | null }[] = [];
    const beforeSave = (step: number) => seen.push({ step, stateStep: existsSync(statePath) ? Number(readSafetensors(statePath).metadata.step) : null });
    const { model } = trainModel(engine, {
      strategy: 'none', attacks: [], epochs: 1, batch: 20, seed: 0, lr: 1e-3, widths: { c1: 4, c2: 8, hidden: 32 }, statePath, checkpointEvery: 1, beforeSave,
    }, firstN(loadMnist('train'), 60));
    model.dispose();
    expect(seen.map((s) => s.step)).toEqual([1, 2, 3]);
    expect(seen.map((s) => s.stateStep), 'the state file still holds the previous step').toEqual([null, 1, 2]);
    expect(Number(readSafetensors(statePath).metadata.step)).toBe(3);
  });
});
