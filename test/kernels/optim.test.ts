import { describe, expect, it } from 'vitest';
import { Params, type Engine } from '../../src/engine.ts';
import { adamStep, sgdStep } from '../../src/kernels/optim.ts';
import { assertClose, assertEqualBits } from '../_helpers/close.ts';
import { checkGuards, engineFor, guarded, guardedFrom } from '../_helpers/engine.ts';
import { adamRef, runParts, sgdRef } from '../_helpers/nn_reference.ts';
import { rng, uniform } from '../_helpers/rng.ts';

const N = [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1001];
const STEPS = 5;

/** SGD hyperparameters reach torch's f32 tensor ops (and the kernel) rounded to f32; the reference uses those values. */
const f = Math.fround;

describe('adam: simd vs scalar vs float64 torch.optim.Adam reference over several steps', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const rand = rng(41);
  const cases = N.map((n, i) => ({ n, lr: [1e-3, 1e-2, 0.1][i % 3], weightDecay: i % 2 ? 0 : 5e-4 * (i + 1), beta1: i % 4 === 3 ? 0 : 0.9, beta2: 0.999, eps: 1e-8 }));

  it.each(cases)('n=$n lr=$lr wd=$weightDecay beta1=$beta1', (o) => {
    const { n } = o;
    const p0 = uniform(rand, n), grads = Array.from({ length: STEPS }, () => uniform(rand, n));
    const p = Float64Array.from(p0), m = new Float64Array(n), v = new Float64Array(n);
    // Exact float64 hyperparameters, as torch's host-side scalars are.
    for (let t = 1; t <= STEPS; t++) adamRef(p, grads[t - 1], m, v, { ...o, step: t });
    const outs: Float32Array[][] = [];
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const P = guardedFrom(engine, p0), M = guarded(engine, n, 0), V = guarded(engine, n, 0);
        for (let t = 1; t <= STEPS; t++) {
          engine.arena.scope(() => {
            const G = guardedFrom(engine, grads[t - 1]);
            adamStep(engine, { param: P, grad: G, m: M, v: V, n, lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, step: t, weightDecay: o.weightDecay });
            checkGuards(engine, G, 'grad');
            assertEqualBits('grad unchanged', engine.toF32(G), grads[t - 1]);
          });
        }
        for (const [b, name] of [[P, 'param'], [M, 'm'], [V, 'v']] as const) checkGuards(engine, b, name);
        outs.push([engine.toF32(P), engine.toF32(M), engine.toF32(V)]);
      });
    }
    const tol = { atol: 1e-6, rtol: 1e-5 };
    assertClose('param simd vs reference', outs[0][0], p, tol);
    assertClose('m simd vs reference', outs[0][1], m, tol);
    assertClose('v simd vs reference', outs[0][2], v, tol);
    for (let k = 0; k < 3; k++) assertEqualBits(`${['param', 'm', 'v'][k]} simd vs scalar`, outs[0][k], outs[1][k]);
  });

  it('golden: the first step moves each parameter by lr·sign(g) (bias-corrected m/√v = ±1)', () => {
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const P = engine.fromF32([1, -2, 0.5, 3, 0]), G = engine.fromF32([0.3, -4, 1e-3, -0.01, 2]);
        const M = engine.fromF32(new Float32Array(5)), V = engine.fromF32(new Float32Array(5));
        adamStep(engine, { param: P, grad: G, m: M, v: V, n: 5, lr: 0.01, step: 1 });
        assertClose(`${engine.isa} param`, engine.toF32(P), [0.99, -1.99, 0.49, 3.01, -0.01], { atol: 1e-6, rtol: 1e-6 });
        assertClose(`${engine.isa} m`, engine.toF32(M), [0.03, -0.4, 1e-4, -1e-3, 0.2], { atol: 1e-9, rtol: 1e-6 });
        assertClose(`${engine.isa} v`, engine.toF32(V), [9e-5, 0.016, 1e-9, 1e-7, 0.004], { atol: 1e-12, rtol: 1e-5 });
      });
    }
  });
});

describe('sgd with momentum: simd vs scalar vs float64 torch.optim.SGD reference over several steps', async () => {
  const simd = await engineFor('simd');
  const scalar = await engineFor('scalar');
  const rand = rng(42);
  const cases = N.flatMap((n, i) => [
    { n, lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false },
    { n, lr: 0.05, momentum: 0.9, weightDecay: i % 2 ? 0 : 5e-4, nesterov: false },
    { n, lr: 0.01, momentum: 0.75, weightDecay: 2e-4, nesterov: true },
  ]);

  it.each(cases)('n=$n lr=$lr momentum=$momentum wd=$weightDecay nesterov=$nesterov', (o) => {
    const { n } = o;
    const p0 = uniform(rand, n), grads = Array.from({ length: STEPS }, () => uniform(rand, n));
    const p = Float64Array.from(p0), buf = new Float64Array(n);
    const hyper = { lr: f(o.lr), momentum: f(o.momentum), weightDecay: f(o.weightDecay), nesterov: o.nesterov };
    for (let t = 1; t <= STEPS; t++) sgdRef(p, grads[t - 1], buf, { ...hyper, firstStep: t === 1 });
    const outs: Float32Array[][] = [];
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        // The velocity starts as garbage (NaN): torch's first step sets buf = g without reading it.
        const P = guardedFrom(engine, p0), VEL = guarded(engine, n, NaN);
        for (let t = 1; t <= STEPS; t++) {
          engine.arena.scope(() => {
            const G = guardedFrom(engine, grads[t - 1]);
            sgdStep(engine, { param: P, grad: G, velocity: VEL, n, lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay, nesterov: o.nesterov, firstStep: t === 1 });
            checkGuards(engine, G, 'grad');
          });
        }
        checkGuards(engine, P, 'param');
        checkGuards(engine, VEL, 'velocity');
        outs.push([engine.toF32(P), engine.toF32(VEL)]);
      });
    }
    const tol = { atol: 1e-6, rtol: 1e-5 };
    assertClose('param simd vs reference', outs[0][0], p, tol);
    assertEqualBits('param simd vs scalar', outs[0][0], outs[1][0]);
    if (o.momentum !== 0) {
      assertClose('velocity simd vs reference', outs[0][1], buf, tol);
      assertEqualBits('velocity simd vs scalar', outs[0][1], outs[1][1]);
    } else {
      // momentum 0: the velocity is never touched.
      expect(outs[0][1].every(Number.isNaN)).toBe(true);
    }
  });

  it('golden: two momentum steps, and momentum 0 works without a velocity buffer', () => {
    for (const engine of [simd, scalar]) {
      engine.arena.scope(() => {
        const P = engine.fromF32([1, 2]), VEL = engine.fromF32([123, 456]);
        sgdStep(engine, { param: P, grad: engine.fromF32([1, -1]), velocity: VEL, n: 2, lr: 0.5, momentum: 0.5, weightDecay: 0, nesterov: false, firstStep: true });
        assertClose('step 1 velocity = g', engine.toF32(VEL), [1, -1], { atol: 0, rtol: 0 });
        assertClose('step 1 param', engine.toF32(P), [0.5, 2.5], { atol: 0, rtol: 0 });
        sgdStep(engine, { param: P, grad: engine.fromF32([2, 2]), velocity: VEL, n: 2, lr: 0.5, momentum: 0.5, weightDecay: 0, nesterov: false, firstStep: false });
        assertClose('step 2 velocity = 0.5·v + g', engine.toF32(VEL), [2.5, 1.5], { atol: 0, rtol: 0 });
        assertClose('step 2 param', engine.toF32(P), [-0.75, 1.75], { atol: 0, rtol: 0 });
        const Q = engine.fromF32([1, 2]);
        sgdStep(engine, { param: Q, grad: engine.fromF32([4, 0]), n: 2, lr: 0.25, weightDecay: 0.5, firstStep: true });
        assertClose('plain sgd with weight decay', engine.toF32(Q), [1 - 0.25 * 4.5, 2 - 0.25 * 1], { atol: 0, rtol: 0 });
      });
    }
  });
});

describe('optimizer element ranges: parts equal the whole call', async () => {
  for (const isa of ['simd', 'scalar'] as const) {
    it(isa, async () => {
      const engine: Engine = await engineFor(isa);
      const n = 41, rand = rng(43);
      const p0 = uniform(rand, n), g = uniform(rand, n), m0 = uniform(rand, n), v0 = uniform(rand, n, 0, 1);
      engine.arena.scope(() => {
        const bufs = () => [engine.fromF32(p0), engine.fromF32(m0), engine.fromF32(v0)];
        const G = engine.fromF32(g);
        const [P1, M1, V1] = bufs(), [P2, M2, V2] = bufs();
        adamStep(engine, { param: P1, grad: G, m: M1, v: V1, n, lr: 0.01, step: 3, weightDecay: 0.01 });
        // The parameter block adamStep builds (assembly/optim.ts header).
        const stepSize = 0.01 / (1 - 0.9 ** 3), bc2Sqrt = Math.sqrt(1 - 0.999 ** 3);
        const adam = (P: typeof P2, M: typeof M2, V: typeof V2) =>
          new Params().i32(n).ptr(P).ptr(G).ptr(M).ptr(V).f32(0.9).f32(1 - 0.9).f32(0.999).f32(1 - 0.999).f32(stepSize).f32(bc2Sqrt).f32(1e-8).f32(0.01);
        runParts(engine, 'f32_adam_update', adam(P2, M2, V2), n, [3, 9, 10, 33]);
        for (const [a, b] of [[P1, P2], [M1, M2], [V1, V2]]) assertEqualBits('adam parts', engine.toF32(b), engine.toF32(a));
        const [Q1, B1] = bufs(), [Q2, B2] = bufs();
        sgdStep(engine, { param: Q1, grad: G, velocity: B1, n, lr: 0.1, momentum: 0.9, weightDecay: 1e-3, nesterov: true, firstStep: false });
        runParts(engine, 'f32_sgd_update', new Params().i32(n).ptr(Q2).ptr(G).ptr(B2).f32(0.1).f32(0.9).f32(1e-3).i32(1), n, [1, 2, 7, 40]);
        for (const [a, b] of [[Q1, Q2], [B1, B2]]) assertEqualBits('sgd parts', engine.toF32(b), engine.toF32(a));
      });
    });
  }
});

describe('optimizer argument checks', async () => {
  const engine = await engineFor('simd');
  const n = 8;
  const [param, grad, m, v, vel] = Array.from({ length: 5 }, () => engine.fromF32(new Float32Array(n)));
  const adamBase = { param, grad, m, v, n, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1, weightDecay: 0 };
  it.each([
    [{ lr: NaN }, /adamStep: lr must be a finite number, got NaN/],
    [{ lr: -1 }, /adamStep: lr must be in \[0, Infinity\]/],
    [{ beta1: 1 }, /adamStep: beta1 must be in \[0, 1\)/],
    [{ beta2: -0.1 }, /adamStep: beta2 must be in \[0, 1\)/],
    [{ eps: Infinity }, /adamStep: eps must be a finite number/],
    [{ step: 0 }, /adamStep: step must be an integer ≥ 1/],
    [{ step: 1.5 }, /adamStep: step must be an integer ≥ 1/],
    [{ weightDecay: -1e-4 }, /adamStep: weightDecay must be in/],
    [{ n: 2.5 }, /adamStep: n must be an integer/],
    [{ m: { ptr: m.ptr, length: 7 } }, /adamStep: m has 7 floats, expected at least 8/],
    [{ v: null }, /adamStep: v must be a buffer/],
    [{ v: m }, /adamStep: m and v overlap/],
    [{ grad: { ptr: param.ptr + 4, length: 8 } }, /adamStep: param and grad overlap/],
  ])('adamStep %o', (over, msg) => {
    expect(() => adamStep(engine, { ...adamBase, ...over } as never)).toThrow(msg);
  });
  const sgdBase = { param, grad, velocity: vel, n, lr: 0.1, momentum: 0.9, weightDecay: 0, nesterov: false, firstStep: true };
  it.each([
    [{ lr: NaN }, /sgdStep: lr must be a finite number, got NaN/],
    [{ momentum: -0.5 }, /sgdStep: momentum must be in/],
    [{ weightDecay: NaN }, /sgdStep: weightDecay must be a finite number/],
    [{ momentum: 0, nesterov: true }, /sgdStep: nesterov needs momentum > 0/],
    [{ velocity: null }, /sgdStep: velocity must be a buffer \{ptr, length\} when momentum is 0.9/],
    [{ velocity: { ptr: vel.ptr, length: 4 } }, /sgdStep: velocity has 4 floats/],
    [{ velocity: grad }, /sgdStep: grad and velocity overlap/],
    [{ firstStep: undefined }, /sgdStep: firstStep must be a boolean/],
    [{ n: -1 }, /sgdStep: n must be an integer/],
    [{ grad: { ptr: grad.ptr, length: 1 } }, /sgdStep: grad has 1 floats/],
  ])('sgdStep %o', (over, msg) => {
    expect(() => sgdStep(engine, { ...sgdBase, ...over } as never)).toThrow(msg);
  });
});
