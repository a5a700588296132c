import { describe, expect, it } from 'vitest';
import { Params, type Engine } from '../../src/engine.ts';
import {
  labelsFrom, marginLoss, marginLossBackward, softmaxCrossEntropy, softmaxCrossEntropyBackward,
  type LossArgs, type LossBackwardArgs,
} from '../../src/kernels/loss.ts';
import { assertClose, assertEqualBits } from '../_helpers/close.ts';
import { checkGuards, engineFor, guarded, guardedFrom } from '../_helpers/engine.ts';
import {
  marginLossBackwardRef, marginLossRef, runParts, softmaxXentBackwardRef, softmaxXentRef,
} from '../_helpers/nn_reference.ts';
import { dot, rng, uniform } from '../_helpers/rng.ts';

type Fwd = (engine: Engine, args: LossArgs) => void;
type Bwd = (engine: Engine, args: LossBackwardArgs) => void;
type RefF = (z: ArrayLike<number>, labels: ArrayLike<number>, B: number, K: number) => Float64Array;
type RefB = (z: ArrayLike<number>, labels: ArrayLike<number>, dl: ArrayLike<number>, B: number, K: number) => Float64Array;

const LOSSES: { name: string; fwd: Fwd; bwd: Bwd; refF: RefF; refB: RefB; kernel: string; minClasses: number }[] = [
  { name: 'softmax xent', fwd: softmaxCrossEntropy, bwd: softmaxCrossEntropyBackward, refF: softmaxXentRef, refB: softmaxXentBackwardRef, kernel: 'f32_softmax_xent', minClasses: 1 },
  { name: 'margin', fwd: marginLoss, bwd: marginLossBackward, refF: marginLossRef, refB: marginLossBackwardRef, kernel: 'f32_margin_loss', minClasses: 2 },
];
const CLASSES = [1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 33];

function randomLabels(rand: () => number, B: number, K: number): Int32Array {
  return Int32Array.from({ length: B }, () => Math.floor(rand() * K));
}

/** Runs forward and backward of one loss on one engine; returns [losses, dlogits]. */
function runLoss(engine: Engine, l: (typeof LOSSES)[number], z: Float32Array, labels: Int32Array, dl: Float32Array,
                 B: number, K: number, inPlace: boolean): [Float32Array, Float32Array] {
  return engine.arena.scope(() => {
    const Z = guardedFrom(engine, z), L = labelsFrom(engine, labels), DL = guardedFrom(engine, dl);
    const losses = guarded(engine, B);
    l.fwd(engine, { logits: Z, labels: L, losses, batch: B, classes: K });
    const DZ = inPlace ? Z : guarded(engine, B * K);
    l.bwd(engine, { logits: Z, labels: L, dlosses: DL, dlogits: DZ, batch: B, classes: K });
    for (const [b, name] of [[Z, 'logits'], [DL, 'dlosses'], [losses, 'losses'], [DZ, 'dlogits']] as const) checkGuards(engine, b, name);
    expect([...engine.arena.i32(L.ptr, B)]).toEqual([...labels]);
    return [engine.toF32(losses), engine.toF32(DZ)];
  });
}

describe.each(LOSSES)('$name loss: simd vs scalar vs float64 reference', async (l) => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const rand = rng(31 + l.minClasses);
  const cases: { B: number; K: number; scale: number; inPlace: boolean }[] = [];
  for (const B of [1, 2, 5]) for (const K of CLASSES) if (K >= l.minClasses) cases.push({ B, K, scale: [1, 10, 80][(B + K) % 3], inPlace: (B * K) % 2 === 1 });

  it.each(cases)('B=$B K=$K scale=$scale inPlace=$inPlace', ({ B, K, scale, inPlace }) => {
    const z = uniform(rand, B * K, -scale, scale), labels = randomLabels(rand, B, K), dl = uniform(rand, B);
    const wantL = l.refF(z, labels, B, K), wantDz = l.refB(z, labels, dl, B, K);
    const [lossSimd, dzSimd] = runLoss(simd, l, z, labels, dl, B, K, inPlace);
    const [lossScalar, dzScalar] = runLoss(scalar, l, z, labels, dl, B, K, inPlace);
    const tolL = { atol: 2e-6 * (1 + scale), rtol: 1e-5 }, tolDz = { atol: 1e-6, rtol: 1e-5 };
    assertClose('losses simd vs reference', lossSimd, wantL, tolL);
    assertClose('losses scalar vs reference', lossScalar, wantL, tolL);
    assertClose('dlogits simd vs reference', dzSimd, wantDz, tolDz);
    assertClose('dlogits scalar vs reference', dzScalar, wantDz, tolDz);
    if (l.kernel === 'f32_margin_loss') {
      assertEqualBits('margin losses simd vs scalar', lossSimd, lossScalar);
      assertEqualBits('margin dlogits simd vs scalar', dzSimd, dzScalar);
    }
  });

  it('example ranges: parts equal the whole call', () => {
    const B = 9, K = 11;
    const z = uniform(rand, B * K, -5, 5), labels = randomLabels(rand, B, K), dl = uniform(rand, B);
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const Z = engine.fromF32(z), L = labelsFrom(engine, labels), DL = engine.fromF32(dl);
        const L1 = guarded(engine, B), L2 = guarded(engine, B), DZ1 = guarded(engine, B * K), DZ2 = guarded(engine, B * K);
        l.fwd(engine, { logits: Z, labels: L, losses: L1, batch: B, classes: K });
        l.bwd(engine, { logits: Z, labels: L, dlosses: DL, dlogits: DZ1, batch: B, classes: K });
        runParts(engine, `${l.kernel}_fwd`, new Params().i32(B).i32(K).ptr(Z).i32(L.ptr).ptr(L2), B, [1, 4]);
        runParts(engine, `${l.kernel}_bwd`, new Params().i32(B).i32(K).ptr(Z).i32(L.ptr).ptr(DL).ptr(DZ2), B, [2, 8]);
        assertEqualBits(`${engine.isa} fwd parts`, engine.toF32(L2), engine.toF32(L1));
        assertEqualBits(`${engine.isa} bwd parts`, engine.toF32(DZ2), engine.toF32(DZ1));
        for (const b of [L2, DZ2]) checkGuards(engine, b);
      });
    }
  });

  it('backward matches central differences of Σ dloss·loss on the float64 forward', () => {
    const B = 4, K = 10, h = 1e-3;
    const z = uniform(rand, B * K, -3, 3), labels = randomLabels(rand, B, K), dl = uniform(rand, B);
    // The margin loss is piecewise linear: keep the top two non-label logits apart.
    if (l.minClasses === 2) for (let i = 0; i < B; i++) z[i * K + ((labels[i] + 1) % K)] = 5 + i;
    const f = (zs: ArrayLike<number>) => dot(dl, l.refF(zs, labels, B, K));
    const z64 = Float64Array.from(z), fd = new Float64Array(B * K);
    for (let i = 0; i < B * K; i++) {
      const zp = z64.slice(), zm = z64.slice();
      zp[i] += h;
      zm[i] -= h;
      fd[i] = (f(zp) - f(zm)) / (2 * h);
    }
    for (const engine of [simd, scalar]) {
      const [, dz] = runLoss(engine, l, z, labels, dl, B, K, false);
      assertClose(`${engine.isa} dlogits vs central differences`, dz, fd, { atol: 1e-4, rtol: 1e-3 });
    }
  });
});

describe('softmax cross-entropy: numerical stability and golden values', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  it.each([
    // [logits, label, expected loss]
    [[0, 0, 0, 0], 2, Math.log(4)],
    [[1000, 0, -1000, 999, 1000], 3, Math.log(2 + Math.exp(-1) + 2 * Math.exp(-1000)) + 1],
    [[-1e4, -1e4 + 1], 0, Math.log(1 + Math.E)],
    [[88, -88, 50, 3, 0, 1, 2, 7, 9], 0, Math.log1p(Math.exp(-38) + Math.exp(-79) + Math.exp(-81) + Math.exp(-85) + Math.exp(-86) + Math.exp(-87) + Math.exp(-88) + Math.exp(-176))],
    [[-Infinity, 0, 1], 2, Math.log1p(Math.exp(-1))],
  ])('logits %j label %i', (z, label, want) => {
    const K = z.length;
    const dl = new Float32Array([1]);
    for (const engine of [simd, scalar]) {
      const [loss, dz] = runLoss(engine, LOSSES[0], Float32Array.from(z), Int32Array.of(label), dl, 1, K, false);
      expect(Number.isFinite(loss[0])).toBe(true);
      expect(Math.abs(loss[0] - want)).toBeLessThan(1e-5 * (1 + want));
      // Gradient rows sum to zero (softmax sums to one), and the label entry is negative.
      expect(Math.abs(dz.reduce((a, b) => a + b, 0))).toBeLessThan(1e-6);
      assertClose(`${engine.isa} dlogits`, dz, softmaxXentBackwardRef(z, [label], [1], 1, K), { atol: 1e-6, rtol: 1e-5 });
    }
  });
});

describe('margin loss: ties and golden values', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  it.each([
    // [logits, label, loss, index receiving +dloss]  NOTE: ties go to the first maximum
    [[1, 3, 3, 0], 0, 2, 1],
    [[5, 5, 5, 5, 5], 2, 0, 0],
    [[5, 5, 5, 5, 5], 0, 0, 1],
    [[0, 1, 2, 3, 4, 5, 6, 9, 9], 8, 0, 7],
    [[2, -1], 1, 3, 0],
    [[-2, 7, 7, 1, 7, 0, 0, 0, 0, 0, 0, 0, 0], 4, 0, 1],
  ])('logits %j label %i', (z, label, wantLoss, jStar) => {
    const K = z.length;
    for (const engine of [simd, scalar]) {
      const [loss, dz] = runLoss(engine, LOSSES[1], Float32Array.from(z), Int32Array.of(label), Float32Array.of(0.5), 1, K, false);
      expect(loss[0]).toBe(wantLoss);
      const want = new Float32Array(K);
      want[jStar] = 0.5;
      want[label] = -0.5;
      assertEqualBits(`${engine.isa} dlogits`, dz, want);
    }
  });
});

describe('loss argument checks', async () => {
  const engine = await engineFor('simd');
  const B = 3, K = 4;
  const logits = engine.fromF32(new Float32Array(B * K)), losses = engine.fromF32(new Float32Array(B));
  const dlosses = engine.fromF32(new Float32Array(B)), dlogits = engine.fromF32(new Float32Array(B * K));
  const labels = labelsFrom(engine, [0, 3, 1]);
  const bad = labelsFrom(engine, [0, 4, 1]), negative = labelsFrom(engine, [0, 1, -1]);
  const fwdCases: [object, RegExp][] = [
    [{ batch: 1.5 }, /batch must be an integer/],
    [{ classes: -1 }, /classes must be an integer/],
    [{ labels: bad }, /labels\[1\] = 4 is out of range \[0, 4\)/],
    [{ labels: negative }, /labels\[2\] = -1 is out of range/],
    [{ labels: { ptr: labels.ptr, length: 2 } }, /labels has 2 ints, expected at least 3/],
    [{ labels: null }, /labels must be an i32 buffer/],
    [{ logits: { ptr: logits.ptr, length: 11 } }, /logits has 11 floats, expected at least 12/],
    [{ losses: { ptr: losses.ptr, length: 2 } }, /losses has 2 floats/],
    [{ losses: { ptr: logits.ptr + 8, length: 3 } }, /losses and logits overlap/],
  ];
  it.each(fwdCases)('forward %o', (over, msg) => {
    for (const [fn, name] of [[softmaxCrossEntropy, 'softmaxCrossEntropy'], [marginLoss, 'marginLoss']] as const) {
      expect(() => fn(engine, { logits, labels, losses, batch: B, classes: K, ...over } as never)).toThrow(new RegExp(`${name}: ${msg.source}`));
    }
  });
  it('margin loss needs two classes', () => {
    const one = labelsFrom(engine, [0, 0, 0]);
    expect(() => marginLoss(engine, { logits, labels: one, losses, batch: B, classes: 1 })).toThrow(/marginLoss: classes must be an integer ≥ 2, got 1/);
    expect(() => softmaxCrossEntropy(engine, { logits, labels: one, losses, batch: B, classes: 1 })).not.toThrow();
  });
  const bwdCases: [object, RegExp][] = [
    [{ dlosses: { ptr: dlosses.ptr, length: 2 } }, /dlosses has 2 floats/],
    [{ dlogits: { ptr: dlogits.ptr, length: 11 } }, /dlogits has 11 floats/],
    [{ dlogits: { ptr: logits.ptr + 4, length: 12 } }, /dlogits and logits overlap \(only exact in-place use is allowed\)/],
    [{ labels: bad }, /labels\[1\] = 4 is out of range/],
    [{ batch: NaN }, /batch must be an integer/],
  ];
  it.each(bwdCases)('backward %o', (over, msg) => {
    for (const [fn, name] of [[softmaxCrossEntropyBackward, 'softmaxCrossEntropyBackward'], [marginLossBackward, 'marginLossBackward']] as const) {
      expect(() => fn(engine, { logits, labels, dlosses, dlogits, batch: B, classes: K, ...over } as never)).toThrow(new RegExp(`${name}: ${msg.source}`));
    }
  });
  it('labelsFrom rejects non-integers', () => {
    expect(() => labelsFrom(engine, [0, 1.5])).toThrow(/labelsFrom: data\[1\] must be an integer/);
  });
});
