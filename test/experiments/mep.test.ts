// The experiment runner (src/experiments/mep.ts) on a reduced configuration: the --json shape the
// issue names, the tables, the SVG, and the command line (--help, a bad flag, a real run writing
// both files).
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/experiments/mep.ts';
import { DEFAULTS, gaussianTable, MODELS, monteCarloTable, rtTable, runMep, toJson, tradeoffSvg, type MepOptions, type MepResult } from '../../src/experiments/mep.ts';
import { loadEngine, type Engine } from '../../src/index.ts';

const SMALL: MepOptions = {
  ...DEFAULTS, d: 100, alphas: [2], ps: [0.6, 0.9], mc: 2000, nTrain: 800, nTest: 1000, epochs: 3,
  rt: { ...DEFAULTS.rt, ps: [0.8], nTrain: 300, nTest: 300 },
};
let engine: Engine;
let result: MepResult;

beforeAll(async () => {
  engine = await loadEngine({ threads: 1 });
  result = runMep(engine, SMALL);
});

afterAll(async () => {
  await engine?.close();
});

describe('experiment:mep', () => {
  it('--json: one entry per setting keyed "alpha=A,p=P" with f_inf, f_1, best_linear_union and trained', () => {
    const json = toJson(result);
    expect(Object.keys(json)).toEqual(['alpha=2,p=0.6', 'alpha=2,p=0.9']);
    for (const [key, entry] of Object.entries(json) as [string, any][]) {
      expect(Object.keys(entry)).toEqual(['f_inf', 'f_1', 'best_linear_union', 'trained']);
      for (const f of [entry.f_inf, entry.f_1]) expect(Object.keys(f)).toEqual(['clean', 'linf', 'l1', 'union']);
      expect(entry.f_inf.linf).toBe(key.endsWith('0.6') ? 0.6 : 0.9);
      expect(entry.best_linear_union.union).toBeGreaterThan(0);
      expect(entry.best_linear_union.bias_free_any_w.union).toBeGreaterThanOrEqual(entry.best_linear_union.union);
      expect(Object.keys(entry.trained)).toEqual([...MODELS]);
      for (const m of MODELS) expect(Object.keys(entry.trained[m])).toEqual(['exact', 'test']);
    }
  });

  it('prints the tables: closed forms, best unions, trained models, Monte Carlo and the RT construction', () => {
    const g = gaussianTable(result);
    expect(g.split('\n')).toHaveLength(2 + 2 * 9);
    expect(g).toContain('| 2 | 0.9 | f∞ = sign(x0) | 90.0 | 90.0 | 0.0 | 0.0 | closed form |');
    expect(g).toMatch(/Adv_max \(trained\)/);
    const mc = monteCarloTable(result);
    expect(mc.split('\n')).toHaveLength(4);
    for (const s of result.settings) expect(s.mc!.maxZ).toBeLessThan(4);
    const rt = rtTable(result);
    expect(rt).toContain('AdvRT (trained)');
    expect(result.rt[0].fChk.rt).toBeLessThan(0.02);
  });

  it('draws the trade-off as an SVG', async () => {
    const svg = await tradeoffSvg(result, SMALL.d, 2);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('Adv_max trained: union');
  });

  it('command line: --help, a bad flag, and a run writing the JSON and the SVG', async () => {
    expect(await main(['--help'])).toBe(0);
    await expect(main(['--mc', 'many'])).rejects.toThrow(/--mc must be an integer/);
    const dir = mkdtempSync(join(tmpdir(), 'mep-'));
    const json = join(dir, 'mep.json'), svg = join(dir, 'sub', 'mep.svg');
    expect(await main(['--json', json, '--svg', svg, '--mc', '0', '--threads', '1'], SMALL)).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(json, 'utf8')))).toEqual(['alpha=2,p=0.6', 'alpha=2,p=0.9']);
    expect(existsSync(svg)).toBe(true);
  });
});
