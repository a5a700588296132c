// One call per kernel, with sizes whose [0, total) splits unevenly, for the thread tests:
// pool.test.ts (Node) and pool.deno.ts (Deno) compare 1, 2 and 3 threads on these.
// No vitest here: Deno imports this file directly.
import {
  adamStep, avgPool2d, avgPool2dBackward, avgPoolShape, biasAdd, biasBackward, conv2dBackwardFilter, conv2dBackwardInput,
  conv2dForward, conv2dGeometry, gemm, labelsFrom, leakyRelu, leakyReluBackward, marginLoss, marginLossBackward, maxPool,
  maxPool2x2, maxPool2x2Backward, maxPool2x2Shape, maxPoolBackward, norms, projL1, projL1Box, projL2, projLinf, randomStart,
  relu, reluBackward, sgdStep, sign, slideDirection, softmaxCrossEntropy, softmaxCrossEntropyBackward, spatialBackwardInput,
  spatialBackwardParams, spatialForward, type Conv2dShape,
} from '../../src/kernels/index.ts';
import type { Engine, F32Buf } from '../../src/engine.ts';
import { rng, uniform } from '../_helpers/rng.ts';

export interface ThreadCase {
  name: string;
  /** Kernels the case calls (each must show up in engine.calls). */
  kernels: string[];
  /** Reduces across the split index: 1 vs T threads agree within `tol` (default REDUCTION_TOL), not bit for bit. */
  reduction: boolean;
  tol?: { atol: number; rtol: number };
  /** Runs the call on fresh inputs made from `seed`; returns copies of the outputs. */
  run(engine: Engine, seed: number): Float32Array[];
}

/**
 * NOTE: reductions split into T partial sums change the order of additions; for the random
 * inputs here (terms in [-1, 1], ≤ a few thousand per sum) |y₁ − y_T| stays far below this.
 */
export const REDUCTION_TOL = { atol: 1e-4, rtol: 1e-5 };
/** Winograd's filter gradient sums transformed terms up to ~25× larger than the direct products. */
const WINOGRAD_REDUCTION_TOL = { atol: 2e-3, rtol: 1e-4 };

function input(engine: Engine, rand: () => number, n: number, lo = -1, hi = 1): F32Buf {
  return engine.fromF32(uniform(rand, n, lo, hi));
}

function gemmCase(M: number, N: number, K: number, transA: boolean, transB: boolean, withBias: boolean): ThreadCase {
  return {
    name: `gemm M=${M} N=${N} K=${K} transA=${transA} transB=${transB} bias=${withBias}`,
    kernels: ['f32_gemm'],
    reduction: false,
    run: (e, seed) => e.arena.scope(() => {
      const rand = rng(seed);
      const a = input(e, rand, M * K), b = input(e, rand, K * N), c = input(e, rand, M * N);
      const bias = withBias ? input(e, rand, N) : null;
      gemm(e, { M, N, K, a, b, c, transA, transB, bias, relu: withBias, accumulate: !withBias });
      return [e.toF32(c)];
    }),
  };
}

function convCase(shape: Conv2dShape, algorithm: 'gemm' | 'winograd'): ThreadCase[] {
  const g = conv2dGeometry(shape);
  const label = `conv2d ${algorithm} b=${g.batch} ${g.h}×${g.w}×${g.cin}→${g.cout} k${g.kh}×${g.kw} s${g.stride} ${shape.padding}`;
  const wino = algorithm === 'winograd';
  return [
    {
      name: `${label} fwd`, kernels: wino ? ['f32_winograd_filter', 'f32_winograd_fwd'] : ['f32_conv2d_fwd'], reduction: false,
      run: (e, seed) => e.arena.scope(() => {
        const rand = rng(seed);
        const x = input(e, rand, g.xSize), w = input(e, rand, g.wSize), bias = input(e, rand, g.cout), y = e.arena.allocF32(g.ySize);
        conv2dForward(e, { x, w, bias, y, geom: g, relu: true, algorithm });
        return [e.toF32(y)];
      }),
    },
    {
      name: `${label} bwd_input`, kernels: wino ? ['f32_winograd_filter', 'f32_winograd_fwd'] : ['f32_conv2d_bwd_input'], reduction: false,
      run: (e, seed) => e.arena.scope(() => {
        const rand = rng(seed);
        const dy = input(e, rand, g.ySize), w = input(e, rand, g.wSize), dx = e.arena.allocF32(g.xSize);
        conv2dBackwardInput(e, { dy, w, dx, geom: g, algorithm });
        return [e.toF32(dx)];
      }),
    },
    {
      name: `${label} bwd_filter`, kernels: wino ? ['f32_winograd_bwd_filter', 'f32_winograd_filter_bwd'] : ['f32_conv2d_bwd_filter'], reduction: true,
      tol: wino ? WINOGRAD_REDUCTION_TOL : REDUCTION_TOL,
      run: (e, seed) => e.arena.scope(() => {
        const rand = rng(seed);
        const x = input(e, rand, g.xSize), dy = input(e, rand, g.ySize), dw = e.arena.allocF32(g.wSize);
        conv2dBackwardFilter(e, { x, dy, dw, geom: g, algorithm });
        return [e.toF32(dw)];
      }),
    },
  ];
}

function lossCase(kind: 'softmax_xent' | 'margin_loss', batch: number, classes: number): ThreadCase {
  const [fwd, bwd] = kind === 'softmax_xent' ? [softmaxCrossEntropy, softmaxCrossEntropyBackward] : [marginLoss, marginLossBackward];
  return {
    name: `${kind} batch=${batch} classes=${classes}`,
    kernels: [`f32_${kind}_fwd`, `f32_${kind}_bwd`],
    reduction: false,
    run: (e, seed) => e.arena.scope(() => {
      const rand = rng(seed);
      const logits = input(e, rand, batch * classes, -3, 3);
      const labels = labelsFrom(e, Array.from({ length: batch }, () => Math.floor(rand() * classes)));
      const losses = e.arena.allocF32(batch), dlosses = input(e, rand, batch), dlogits = e.arena.allocF32(batch * classes);
      fwd(e, { logits, labels, losses, batch, classes });
      bwd(e, { logits, labels, dlosses, dlogits, batch, classes });
      return [e.toF32(losses), e.toF32(dlogits)];
    }),
  };
}

/** Per-example (batch, dim) cases: projections, norms, sign, SLIDE direction, random starts. */
function perturbationCases(batch: number, dim: number): ThreadCase[] {
  const n = batch * dim;
  const rows = (name: string, kernels: string[], body: (e: Engine, rand: () => number) => F32Buf[]): ThreadCase => ({
    name: `${name} batch=${batch} dim=${dim}`, kernels, reduction: false,
    run: (e, seed) => e.arena.scope(() => body(e, rng(seed)).map((b) => e.toF32(b))),
  });
  const projections = [['linf', projLinf], ['l2', projL2], ['l1', projL1], ['l1_box', projL1Box]] as const;
  return [
    ...projections.map(([kind, project]) => rows(`proj ${kind}`, [`f32_proj_${kind}`], (e, rand) => {
      const delta = input(e, rand, n), eps = input(e, rand, batch, 0.1, 2), x0 = input(e, rand, n, 0, 1), out = e.arena.allocF32(n);
      project(e, { batch, dim, delta, eps, x0, out });
      return [out];
    })),
    rows('norms + sign', ['f32_norms', 'f32_sign'], (e, rand) => {
      const x = input(e, rand, n), out = e.arena.allocF32(batch * 3), s = e.arena.allocF32(n);
      norms(e, { batch, dim, x, out });
      sign(e, { batch, dim, x, out: s });
      return [out, s];
    }),
    rows('slide direction', ['f32_slide_dir'], (e, rand) => {
      const g = input(e, rand, n), x = input(e, rand, n, 0, 1), out = e.arena.allocF32(n);
      slideDirection(e, { batch, dim, g, x, out, q: 90 });
      return [out];
    }),
    ...(['linf', 'l2', 'l1'] as const).map((kind) => rows(`random start ${kind}`, [`f32_rand_${kind}`], (e, rand) => {
      const eps = input(e, rand, batch, 0.1, 2), out = e.arena.allocF32(n);
      randomStart(e, { kind, batch, dim, out, eps, seed: 12345, offset: 3 });
      return [out];
    })),
  ];
}

function bilinearCase(batch: number, h: number, w: number, c: number): ThreadCase {
  const n = batch * h * w * c;
  return {
    name: `bilinear fwd+bwd b=${batch} ${h}×${w}×${c}`,
    kernels: ['f32_bilinear_fwd', 'f32_bilinear_bwd_input', 'f32_bilinear_bwd_params'],
    reduction: false,
    run: (e, seed) => e.arena.scope(() => {
      const rand = rng(seed);
      const params = e.fromF32(Array.from({ length: batch * 3 }, (_, i) => (i % 3 === 0 ? 0.5 : 3) * (2 * rand() - 1)));
      const x = input(e, rand, n), gy = input(e, rand, n);
      const y = e.arena.allocF32(n), gx = e.arena.allocF32(n), gradParams = e.arena.allocF32(batch * 3);
      spatialForward(e, { batch, h, w, c, params, x, y });
      spatialBackwardInput(e, { batch, h, w, c, params, gy, gx });
      spatialBackwardParams(e, { batch, h, w, c, params, x, gy, gradParams });
      return [e.toF32(y), e.toF32(gx), e.toF32(gradParams)];
    }),
  };
}

export const THREAD_CASES: ThreadCase[] = [
  gemmCase(37, 19, 23, false, false, false),
  gemmCase(130, 70, 300, true, false, true),
  gemmCase(9, 1030, 5, false, true, false),
  gemmCase(2, 8, 8, true, true, true),
  // Split by column panels (M < N), the last panel partial.
  gemmCase(5, 45, 17, false, false, true),
  gemmCase(3, 30, 9, true, true, false),
  ...convCase({ batch: 3, h: 7, w: 6, cin: 3, cout: 5, kh: 3, kw: 3, stride: 1, padding: 'same' }, 'gemm'),
  ...convCase({ batch: 5, h: 9, w: 8, cin: 4, cout: 9, kh: 5, kw: 5, stride: 2, padding: 'valid' }, 'gemm'),
  ...convCase({ batch: 4, h: 14, w: 14, cin: 32, cout: 64, kh: 5, kw: 5, stride: 1, padding: 'same' }, 'gemm'),
  ...convCase({ batch: 4, h: 14, w: 14, cin: 32, cout: 64, kh: 5, kw: 5, stride: 1, padding: 'same' }, 'winograd'),
  ...convCase({ batch: 5, h: 9, w: 7, cin: 5, cout: 11, kh: 5, kw: 5, stride: 1, padding: 1 }, 'winograd'),
  {
    name: 'bias_add fwd rows=13 cols=7', kernels: ['f32_bias_add_fwd'], reduction: false,
    run: (e, seed) => e.arena.scope(() => {
      const rand = rng(seed);
      const x = input(e, rand, 91), bias = input(e, rand, 7), y = e.arena.allocF32(91);
      biasAdd(e, { x, bias, y, rows: 13, cols: 7, relu: true });
      return [e.toF32(y)];
    }),
  },
  {
    name: 'bias_add bwd rows=301 cols=37', kernels: ['f32_bias_add_bwd'], reduction: true,
    run: (e, seed) => e.arena.scope(() => {
      const rand = rng(seed);
      const dy = input(e, rand, 301 * 37), db = e.arena.allocF32(37);
      biasBackward(e, { dy, db, rows: 301, cols: 37 });
      return [e.toF32(db)];
    }),
  },
  {
    name: 'relu fwd+bwd n=1001', kernels: ['f32_relu_fwd', 'f32_relu_bwd'], reduction: false,
    run: (e, seed) => e.arena.scope(() => {
      const rand = rng(seed);
      const x = input(e, rand, 1001), y = e.arena.allocF32(1001), dy = input(e, rand, 1001), dx = e.arena.allocF32(1001);
      relu(e, { x, y, n: 1001 });
      reluBackward(e, { y, dy, dx, n: 1001 });
      return [e.toF32(y), e.toF32(dx)];
    }),
  },
  {
    name: 'maxpool2d fwd+bwd (plain and fused ReLU) b=3 9×7×5', kernels: ['f32_maxpool2d_fwd', 'f32_maxpool2d_bwd'], reduction: false,
    run: (e, seed) => e.arena.scope(() => {
      const rand = rng(seed);
      const [batch, h, w, c] = [3, 9, 7, 5];
      const [, oh, ow] = maxPool2x2Shape(batch, h, w, c);
      const x = input(e, rand, batch * h * w * c), y = e.arena.allocF32(batch * oh * ow * c);
      const dy = input(e, rand, batch * oh * ow * c), dx = e.arena.allocF32(batch * h * w * c);
      maxPool2x2(e, { x, y, batch, h, w, c });
      maxPool2x2Backward(e, { x, dy, dx, batch, h, w, c });
      const yRelu = e.arena.allocF32(batch * oh * ow * c), dxRelu = e.arena.allocF32(batch * h * w * c);
      maxPool2x2(e, { x, y: yRelu, batch, h, w, c, relu: true });
      maxPool2x2Backward(e, { x, dy, dx: dxRelu, batch, h, w, c, relu: true });
      return [e.toF32(y), e.toF32(dx), e.toF32(yRelu), e.toF32(dxRelu)];
    }),
  },
  {
    name: 'leaky relu fwd+bwd n=1001', kernels: ['f32_leaky_relu_fwd', 'f32_leaky_relu_bwd'], reduction: false,
    run: (e, seed) => e.arena.scope(() => {
      const rand = rng(seed);
      const x = input(e, rand, 1001), y = e.arena.allocF32(1001), dy = input(e, rand, 1001), dx = e.arena.allocF32(1001);
      leakyRelu(e, { x, y, n: 1001, alpha: 0.1 });
      leakyReluBackward(e, { x, dy, dx, n: 1001, alpha: 0.1 });
      return [e.toF32(y), e.toF32(dx)];
    }),
  },
  {
    name: 'avgpool2d fwd+bwd b=3 9×7×5 k3 s2 p1', kernels: ['f32_avgpool2d_fwd', 'f32_avgpool2d_bwd'], reduction: false,
    run: (e, seed) => e.arena.scope(() => {
      const rand = rng(seed);
      const g = { batch: 3, h: 9, w: 7, c: 5, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1, includePad: false };
      const s = avgPoolShape('case', g);
      const x = input(e, rand, 3 * 9 * 7 * 5), y = e.arena.allocF32(3 * s.oh * s.ow * 5);
      const dy = input(e, rand, 3 * s.oh * s.ow * 5), dx = e.arena.allocF32(3 * 9 * 7 * 5);
      avgPool2d(e, { ...g, x, y });
      avgPool2dBackward(e, { ...g, dy, dx });
      return [e.toF32(y), e.toF32(dx)];
    }),
  },
  {
    name: 'general maxpool fwd+bwd b=3 9×7×5 k3 s2 p1 (ties)', kernels: ['f32_maxpool_fwd', 'f32_maxpool_bwd'], reduction: false,
    run: (e, seed) => e.arena.scope(() => {
      const rand = rng(seed);
      const g = { batch: 3, h: 9, w: 7, c: 5, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1, includePad: false };
      const s = avgPoolShape('case', g);
      const x = e.fromF32(Float32Array.from({ length: 3 * 9 * 7 * 5 }, () => Math.floor(rand() * 3))), y = e.arena.allocF32(3 * s.oh * s.ow * 5);
      const dy = input(e, rand, 3 * s.oh * s.ow * 5), dx = e.arena.allocF32(3 * 9 * 7 * 5);
      maxPool(e, { ...g, x, y });
      maxPoolBackward(e, { ...g, x, dy, dx });
      return [e.toF32(y), e.toF32(dx)];
    }),
  },
  lossCase('softmax_xent', 11, 10),
  lossCase('margin_loss', 7, 3),
  ...perturbationCases(7, 37),
  bilinearCase(5, 9, 7, 2),
  {
    name: 'adam n=1003', kernels: ['f32_adam_update'], reduction: false,
    run: (e, seed) => e.arena.scope(() => {
      const rand = rng(seed);
      const param = input(e, rand, 1003), grad = input(e, rand, 1003), m = input(e, rand, 1003), v = input(e, rand, 1003, 0, 1);
      adamStep(e, { param, grad, m, v, n: 1003, lr: 1e-2, step: 3, weightDecay: 1e-3 });
      return [e.toF32(param), e.toF32(m), e.toF32(v)];
    }),
  },
  {
    name: 'sgd momentum n=1003', kernels: ['f32_sgd_update'], reduction: false,
    run: (e, seed) => e.arena.scope(() => {
      const rand = rng(seed);
      const param = input(e, rand, 1003), grad = input(e, rand, 1003), velocity = input(e, rand, 1003);
      sgdStep(e, { param, grad, velocity, n: 1003, lr: 0.1, momentum: 0.9, nesterov: true, firstStep: false });
      return [e.toF32(param), e.toF32(velocity)];
    }),
  },
];

/** Kernels of `engine` that no case calls. */
export function uncoveredKernels(engine: Engine): string[] {
  const covered = new Set(THREAD_CASES.flatMap((c) => c.kernels));
  return engine.kernelNames().filter((k) => !covered.has(k));
}

/** Index and values of the first difference between two runs' outputs, bit for bit (NaN = NaN), or null. */
export function firstDifference(a: Float32Array[], b: Float32Array[]): string | null {
  if (a.length !== b.length) return `${a.length} vs ${b.length} outputs`;
  for (let o = 0; o < a.length; o++) {
    if (a[o].length !== b[o].length) return `output ${o}: length ${a[o].length} vs ${b[o].length}`;
    for (let i = 0; i < a[o].length; i++) {
      if (!Object.is(a[o][i], b[o][i]) && !(Number.isNaN(a[o][i]) && Number.isNaN(b[o][i]))) return `output ${o}[${i}]: ${a[o][i]} vs ${b[o][i]}`;
    }
  }
  return null;
}

/** First element outside `tol` between two runs' outputs, or null. */
export function firstMismatch(a: Float32Array[], b: Float32Array[], tol: { atol: number; rtol: number }): string | null {
  for (let o = 0; o < a.length; o++) {
    for (let i = 0; i < a[o].length; i++) {
      const d = Math.abs(a[o][i] - b[o][i]);
      if (!(d <= tol.atol + tol.rtol * Math.abs(b[o][i]))) return `output ${o}[${i}]: ${a[o][i]} vs ${b[o][i]} (diff ${d})`;
    }
  }
  return null;
}

/**
 * Checks every case on engines with 1 and more threads; returns one line per failure (empty = pass).
 * `engines[0]` must be single-threaded; every engine must split every call (minParallelCost 0).
 */
export function checkThreadCases(engines: Engine[], seed = 7): string[] {
  const failures: string[] = [];
  for (const cs of THREAD_CASES) {
    const ref = runCase(engines[0], cs, seed, failures);
    for (const e of engines.slice(1)) {
      const splitsBefore = e.workerPool?.splits ?? 0;
      const first = runCase(e, cs, seed, failures);
      const second = runCase(e, cs, seed, failures);
      if (!first || !second || !ref) continue;
      if ((e.workerPool?.splits ?? 0) <= splitsBefore) failures.push(`${cs.name}: ${e.threads} threads: no call was split`);
      const repeat = firstDifference(first, second);
      if (repeat) failures.push(`${cs.name}: ${e.threads} threads, two runs differ: ${repeat}`);
      const vsOne = cs.reduction ? firstMismatch(first, ref, cs.tol ?? REDUCTION_TOL) : firstDifference(first, ref);
      if (vsOne) failures.push(`${cs.name}: ${e.threads} threads vs 1 thread: ${vsOne}`);
    }
  }
  return failures;
}

function runCase(e: Engine, cs: ThreadCase, seed: number, failures: string[]): Float32Array[] | null {
  const before = new Map(cs.kernels.map((k) => [k, e.calls.get(k) ?? 0]));
  try {
    const out = cs.run(e, seed);
    for (const k of cs.kernels) if ((e.calls.get(k) ?? 0) === before.get(k)) failures.push(`${cs.name}: kernel ${k} was not called`);
    return out;
  } catch (err) {
    failures.push(`${cs.name}: ${e.threads} threads: ${(err as Error).message}`);
    return null;
  }
}

/**
 * The fixed summation order, bit for bit: a reduction on a T-thread engine equals the 1-thread
 * results of its chunks (same chunking as pool.ts) added in thread order in f32.
 */
export function checkReductionOrder(one: Engine, many: Engine, seed = 11): string[] {
  const failures: string[] = [];
  const T = many.threads;
  const chunks = (total: number) => Array.from({ length: T }, (_, t) => [Math.floor((total * t) / T), Math.floor((total * (t + 1)) / T)]);
  const sumInOrder = (parts: Float32Array[]) => {
    const acc = parts[0].slice();
    for (const p of parts.slice(1)) for (let i = 0; i < acc.length; i++) acc[i] += p[i];
    return acc;
  };
  const compare = (label: string, got: Float32Array, want: Float32Array) => {
    const d = firstDifference([got], [want]);
    if (d) failures.push(`${label}: ${T} threads vs chunks summed in order: ${d}`);
  };

  const [rows, cols] = [301, 37];
  const dyData = uniform(rng(seed), rows * cols);
  const biasGrad = (e: Engine, r0: number, r1: number) => e.arena.scope(() => {
    const dy = e.fromF32(dyData.subarray(r0 * cols, r1 * cols)), db = e.arena.allocF32(cols);
    biasBackward(e, { dy, db, rows: r1 - r0, cols });
    return e.toF32(db);
  });
  compare('bias_add bwd', biasGrad(many, 0, rows), sumInOrder(chunks(rows).filter(([b, e]) => b < e).map(([b, e]) => biasGrad(one, b, e))));

  const shape = { batch: 7, h: 9, w: 8, cin: 3, cout: 6, kh: 3, kw: 3, stride: 1, padding: 'same' as const };
  const g = conv2dGeometry(shape);
  const rand = rng(seed + 1);
  const xData = uniform(rand, g.xSize), dyConv = uniform(rand, g.ySize);
  const filterGrad = (e: Engine, b0: number, b1: number) => e.arena.scope(() => {
    const gb = conv2dGeometry({ ...shape, batch: b1 - b0 });
    const x = e.fromF32(xData.subarray(b0 * g.h * g.w * g.cin, b1 * g.h * g.w * g.cin));
    const dy = e.fromF32(dyConv.subarray(b0 * g.oh * g.ow * g.cout, b1 * g.oh * g.ow * g.cout));
    const dw = e.arena.allocF32(g.wSize);
    conv2dBackwardFilter(e, { x, dy, dw, geom: gb });
    return e.toF32(dw);
  });
  compare('conv2d bwd_filter', filterGrad(many, 0, shape.batch), sumInOrder(chunks(shape.batch).filter(([b, e]) => b < e).map(([b, e]) => filterGrad(one, b, e))));
  return failures;
}

/**
 * A kernel that traps on worker 1 only: a reduction (static chunks: thread t always takes chunk t;
 * other calls hand out grains to whichever thread is free) whose second half of rows lies past the
 * end of memory. Returns the error message and whether the pool still gives the right result after.
 */
export function trapInWorker(engine: Engine): { message: string | null; afterwards: string | null } {
  const [rows, cols] = [64, 16];
  return engine.arena.scope(() => {
    const rand = rng(3);
    const dy = input(engine, rand, rows * cols), db = engine.arena.allocF32(cols);
    biasBackward(engine, { dy, db, rows, cols }); // allocates the partials first, so memory does not grow below
    const want = engine.toF32(db);
    const end = engine.memory.buffer.byteLength;
    // Rows [0, rows/2) (the caller's) fit just below the end of memory; rows [rows/2, rows) do not.
    const bad = { ptr: end - (rows / 2) * cols * 4, length: rows * cols };
    let message: string | null = null;
    try {
      biasBackward(engine, { dy: bad, db, rows, cols });
    } catch (err) {
      message = (err as Error).message;
    }
    biasBackward(engine, { dy, db, rows, cols });
    return { message, afterwards: firstDifference([engine.toF32(db)], [want]) };
  });
}

/** Kills worker 1 (test-only command); returns the error message and the milliseconds it took. */
export function crashWorker(engine: Engine): { message: string | null; ms: number } {
  const t0 = performance.now();
  let message: string | null = null;
  try {
    engine.workerPool!.crashForTest(1);
  } catch (err) {
    message = (err as Error).message;
  }
  return { message, ms: performance.now() - t0 };
}

/**
 * Memory grows on the calling thread right before a split call whose worker chunk lives only in
 * the new pages: workers must see the grown memory at once. Engines should start small (1 MiB).
 */
export function checkGrowth(one: Engine, many: Engine): string[] {
  const failures: string[] = [];
  const [M, N, K] = [96, 64, 64];
  const rand = rng(5);
  const a = uniform(rand, M * K), b = uniform(rand, K * N);
  const results = [one, many].map((e) => {
    const outs: Float32Array[] = [];
    const kept: number[] = [];
    for (let round = 0; round < 6; round++) {
      // Fill memory up to 1 KiB below its end, so the inputs and output land in new pages.
      const room = e.memory.buffer.byteLength - e.arena.stats().highWaterBytes;
      kept.push(e.arena.alloc(Math.max(0, room - 1024), false));
      const before = e.memory.buffer.byteLength;
      const A = e.fromF32(a), B = e.fromF32(b), C = e.arena.allocF32(M * N);
      if (e.memory.buffer.byteLength === before) failures.push(`round ${round}: memory did not grow`);
      gemm(e, { M, N, K, a: A, b: B, c: C });
      outs.push(e.toF32(C));
    }
    for (const p of kept) e.arena.free(p);
    return outs;
  });
  for (let r = 0; r < results[0].length; r++) {
    const d = firstDifference([results[1][r]], [results[0][r]]);
    if (d) failures.push(`growth round ${r}: ${many.threads} threads vs 1: ${d}`);
  }
  return failures;
}
