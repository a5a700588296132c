// The public names of the package's four entry points (src/index.ts's header says what goes where),
// pinned as literal lists: adding, removing or moving a name means editing this file, deliberately.
// Also: no name means two things (across the entries, and from the root through `ops`), the
// package.json `exports` map points at files the build emits and `files` publishes, the built entries
// export the pinned names (Node resolves `multirobust/…` through that map), and `multirobust serve`
// resolves a page's `multirobust/engine` import through the same map.
import { spawnAsync } from './_helpers/spawn.ts';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as root from '../src/index.ts';
import * as engine from '../src/engine.ts';
import * as kernels from '../src/kernels/index.ts';
import * as report from '../src/report/index.ts';
import { resolveBare } from '../src/serve/server.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const RUNTIME: Record<string, string[]> = {
  'multirobust': [
    'APGD', 'Adam', 'Affine', 'Boundary', 'Conv2d', 'DEFAULT_THREATS', 'Dense', 'EvalStateMismatch', 'Flatten', 'InputError', 'KINDS', 'L1APGD',
    'L2PGD', 'LinfPGD', 'MaxPool2d', 'Module', 'OnnxImportError', 'OnnxModel', 'Pointwise', 'RTGrid', 'RTPGD', 'RTRandom', 'ReLU',
    'Rng', 'SCHEDULES', 'SGD', 'SLIDE', 'STRATEGIES', 'SUITES', 'Sequential', 'Square', 'Tensor', 'accuracy', 'backward', 'batches',
    'constant', 'cosine', 'evaluate', 'exportMnistCnn', 'exportOnnxModel', 'formatReport', 'gather', 'getEngine', 'glorotUniform',
    'grad', 'heNormal', 'heUniform', 'importOnnx', 'initializers', 'isGradEnabled', 'loadEngine', 'loadIdxPair', 'loadMnist',
    'loadModel', 'loadTorchStateDict', 'loadTrainingState', 'mergeShards', 'missingFeatures', 'mnistCnn', 'mnistDataDir', 'noGrad',
    'ops', 'parseAttack', 'parseAttacks', 'parseEps', 'parseIdx', 'parseSafetensors', 'parseShard', 'piecewiseConstant',
    'piecewiseLinear', 'projectL1', 'projectL1Box', 'projectL2', 'projectLinf', 'readSafetensors', 'rotateTranslate', 'runAttack',
    'saveModel', 'saveTrainingState', 'serializeSafetensors', 'shuffledIndices', 'sizeOf', 'suiteTokens', 'toFloat32',
    'torchStateDict', 'trainModel', 'triangular', 'wilson', 'writeSafetensors', 'zeros',
  ],
  'multirobust/engine': ['Arena', 'Engine', 'KERNEL_NAMES', 'OutOfMemoryError', 'Params', 'REDUCTION_KERNELS'],
  'multirobust/kernels': [
    'adamStep', 'avgPool2d', 'avgPool2dBackward', 'avgPoolShape', 'biasAdd', 'biasBackward', 'conv2dBackwardFilter',
    'conv2dBackwardInput', 'conv2dForward', 'conv2dGeometry', 'gemm', 'labelsFrom', 'leakyRelu', 'leakyReluBackward', 'marginLoss',
    'marginLossBackward', 'maxPool', 'maxPool2x2', 'maxPool2x2Backward', 'maxPool2x2Shape', 'maxPoolBackward', 'norms', 'projL1',
    'projL1Box', 'projL2', 'projLinf', 'randomStart', 'relu', 'reluBackward', 'sgdStep', 'sign', 'slideDirection',
    'softmaxCrossEntropy', 'softmaxCrossEntropyBackward', 'spatialBackwardInput', 'spatialBackwardParams', 'spatialForward',
  ],
  'multirobust/report': ['encodePng', 'imageGridLayout', 'imageGridPng', 'lineChartSpec', 'lineChartSvg'],
};

/** The tensor ops, `ops.*` at the root. */
const OPS = [
  'add', 'addScalar', 'avgPool2d', 'biasAdd', 'conv2d', 'defineOp', 'dense', 'flatten', 'getOp', 'globalAvgPool', 'leakyRelu',
  'listOps', 'marginLoss', 'matmul', 'maxPool', 'maxPool2d', 'mean', 'mul', 'neg', 'relu', 'reshape', 'scale',
  'softmaxCrossEntropy', 'spatialTransform', 'sub', 'sum',
];

/** Type-only exports (interfaces and type aliases, and `Engine` at the root: the class is multirobust/engine's). */
const TYPES: Record<string, string[]> = {
  'multirobust': [
    'AffineOptions', 'ApgdOptions', 'Attack', 'AttackBatch', 'AttackOutcome', 'AttackReport', 'Batch', 'BuildName', 'Classifier',
    'CommonOptions', 'Dtype', 'Engine', 'EngineOptions', 'EpochResult', 'Eps', 'EvalData', 'EvalOptions', 'EvalReport',
    'ImageDataset', 'Initializer', 'KernelIsa', 'KindSpec', 'L1ApgdOptions', 'LossName', 'MnistCnnWidths', 'OnnxInfo', 'Optimizer',
    'OptionSpec', 'Padding', 'PgdOptions', 'Schedule', 'Settings', 'Shape', 'ShardReport', 'ShardSpec', 'SlideOptions',
    'SquareOptions', 'StEntry', 'StFile', 'StTensor', 'StepProgress', 'Strategy', 'SuiteName', 'TensorOptions', 'ThreatName',
    'TrainOptions', 'TrainResult', 'TrainingState',
  ],
  'multirobust/engine': ['F32Buf', 'I32Buf', 'KernelFn', 'KernelName'],
  'multirobust/kernels': [
    'AdamStepArgs', 'AvgPoolGeometry', 'AvgPoolShape', 'BiasAddArgs', 'BiasBackwardArgs', 'Conv2dGeometry', 'Conv2dShape',
    'ConvAlgorithm', 'GemmArgs', 'LeakyReluArgs', 'LeakyReluBackwardArgs', 'LossArgs', 'LossBackwardArgs', 'MaxPool2x2Args',
    'MaxPool2x2BackwardArgs', 'Padding', 'ProjArgs', 'RandomStartArgs', 'RandomStartKind', 'ReluArgs', 'ReluBackwardArgs', 'RowsArgs',
    'SgdStepArgs', 'SlideArgs', 'SpatialShape',
  ],
  'multirobust/report': ['GridRow', 'ImageGrid', 'ImageGridLayout', 'LineChart', 'Series'],
};

const MODULES: Record<string, Record<string, unknown>> = { 'multirobust': root, 'multirobust/engine': engine, 'multirobust/kernels': kernels, 'multirobust/report': report };

type Target = { types: string; default: string };
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, Target | string>; files: string[] };
/** The entry points of the exports map: 'multirobust/engine' → its targets. */
const entries = Object.entries(pkg.exports).filter(([k]) => k !== './package.json')
  .map(([k, t]) => [k === '.' ? pkg.name : `${pkg.name}/${k.slice(2)}`, t as Target] as const);

describe('public API', () => {
  it('each entry point exports exactly the pinned runtime names', () => {
    for (const [name, mod] of Object.entries(MODULES)) expect(Object.keys(mod).sort(), name).toEqual(RUNTIME[name]);
    expect(Object.keys(root.ops).sort()).toEqual(OPS);
  });

  it('no runtime name means two things across the entry points', () => {
    const seen = new Map<string, [string, unknown]>();
    const clashes: string[] = [];
    for (const [entry, mod] of Object.entries(MODULES)) {
      for (const [name, value] of Object.entries(mod)) {
        const first = seen.get(name);
        if (first && first[1] !== value) clashes.push(`${name}: ${first[0]} and ${entry}`);
        if (!first) seen.set(name, [entry, value]);
      }
    }
    expect(clashes).toEqual([]);
  });

  it('from the root, a name reaches one thing: ops.softmaxCrossEntropy is the only softmaxCrossEntropy', () => {
    const paths = new Map<string, { path: string; value: unknown }[]>();
    const walk = (ns: Record<string, unknown>, prefix: string) => {
      for (const [name, value] of Object.entries(ns)) {
        paths.set(name, [...(paths.get(name) ?? []), { path: prefix + name, value }]);
        if (Object.prototype.toString.call(value) === '[object Module]') walk(value as Record<string, unknown>, `${prefix}${name}.`);
      }
    };
    walk(root, '');
    expect(paths.get('softmaxCrossEntropy')!.map((p) => p.path)).toEqual(['ops.softmaxCrossEntropy']);
    expect(paths.get('marginLoss')!.map((p) => p.path)).toEqual(['ops.marginLoss']);
    const twoThings = [...paths].filter(([, ps]) => ps.some((p) => p.value !== ps[0].value)).map(([, ps]) => ps.map((p) => p.path).join(' ≠ '));
    expect(twoThings).toEqual([]);
    // The internals the issue named are gone from every entry.
    for (const internal of ['WorstCase', 'scoreLogits', 'splitTokens', 'trainingAttacks', 'NormPGD', 'projL1', 'gemm', 'Arena']) {
      expect(paths.has(internal), internal).toBe(false);
    }
  });

  it('the exports map names the four entry points, and `files` publishes their targets', () => {
    expect(entries.map(([e]) => e)).toEqual(Object.keys(RUNTIME));
    for (const [entry, target] of entries) {
      expect(Object.keys(target), entry).toEqual(['types', 'default']);
      for (const file of [target.types, target.default]) {
        expect(file.replace(/\.d\.ts$|\.js$/, ''), entry).toMatch(/^\.\/dist\//);
        expect(pkg.files.some((f) => file.slice(2).startsWith(`${f}/`)), `${file} is in package.json files`).toBe(true);
      }
    }
  });

  it('the build emits every target; the built entries, imported by name, export the pinned names', async () => {
    for (const [, target] of entries) for (const file of [target.types, target.default]) expect(existsSync(join(ROOT, file)), file).toBe(true);
    // Node's self-reference: `import('multirobust/kernels')` inside the package resolves through the exports map.
    const script = `const out = {}; for (const e of ${JSON.stringify(entries.map(([e]) => e))}) out[e] = Object.keys(await import(e)).sort(); console.log(JSON.stringify(out));`;
    const r = await spawnAsync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(RUNTIME);
  });

  it('the built declarations export the pinned types, and a name in two entries is one declaration', () => {
    const files = entries.map(([, t]) => join(ROOT, t.types));
    const program = ts.createProgram(files, { noEmit: true, skipLibCheck: true, types: [], module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext });
    const checker = program.getTypeChecker();
    const declared = new Map<string, ts.Symbol>();
    const clashes: string[] = [];
    entries.forEach(([entry], i) => {
      const symbols = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(files[i])!)!);
      const runtime = new Set(RUNTIME[entry]);
      expect(symbols.map((s) => s.name).filter((n) => !runtime.has(n)).sort(), entry).toEqual(TYPES[entry]);
      expect(symbols.filter((s) => runtime.has(s.name)).length, entry).toBe(runtime.size);
      for (const s of symbols) {
        const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
        const first = declared.get(s.name);
        if (first && first !== target) clashes.push(`${s.name} in ${entry}`);
        declared.set(s.name, first ?? target);
      }
    });
    expect(clashes).toEqual([]);
    // The root's type-only Engine is multirobust/engine's class.
    expect(TYPES['multirobust']).toContain('Engine');
    expect(RUNTIME['multirobust/engine']).toContain('Engine');
  }, 60_000);

  it('multirobust serve resolves a page\'s `multirobust/engine` import through the exports map', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mr-api-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(ROOT, join(dir, 'node_modules', 'multirobust'), 'dir');
      for (const [entry, target] of entries) {
        expect(resolveBare(entry, dir), entry).toBe(`/node_modules/${entry.split('/')[0]}/${target.default.slice(2)}`);
      }
      expect(resolveBare('multirobust/kernels/gemm', dir)).toBeNull(); // only what the map exports
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the report entry draws (it was public at the root before)', async () => {
    expect((await report.lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [{ x: 0, y: 0 }] }] })).startsWith('<svg')).toBe(true);
    expect([...report.encodePng(1, 1, 1, new Uint8Array([7])).subarray(1, 4)]).toEqual([80, 78, 71]); // "PNG"
    expect(report.imageGridPng({ height: 1, width: 1, channels: 1, rows: [{ label: 'a', images: [new Float32Array(1)] }] })).toBeInstanceOf(Uint8Array);
  });
});
