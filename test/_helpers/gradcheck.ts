// checkOp: one call per op case runs forward vs a float64 reference, then for every input the
// gradient check: an adjoint test ⟨f(v) − f(0), u⟩ = ⟨v, vjp(u)⟩ where the op is linear (affine) in
// that input, else central differences of ⟨u, ref(x)⟩ on the float64 reference. Cotangents u are
// random, never sum(). A passing checkOp records the op in the registry (markChecked);
// test/registry.test.ts requires a REFS entry and such a record for every op.
import { expect } from 'vitest';
import { backward, noGrad } from '../../src/autograd.ts';
import { getOp } from '../../src/ops/index.ts';
import { markChecked } from '../../src/ops/registry.ts';
import { Tensor } from '../../src/tensor.ts';
import type { Engine } from '../../src/wasm/engine.ts';
import { assertClose } from './close.ts';
import { engineFor } from './engine.ts';
import { spatialRef } from './perturb_reference.ts';
import { conv2dRef, denseRef, marginRef, maxPoolRef, xentRef } from './op_reference.ts';
import { avgPoolRef, maxPoolGeneralRef } from './nn_reference.ts';
import { dot, rng } from './rng.ts';

type Inputs = (Float64Array | null)[];
type Rand = () => number;

export interface RefSpec {
  /** float64 forward. */
  ref(x: Inputs, shapes: (number[] | null)[], attrs: any): Float64Array;
  /** Per input: the op is affine in it (others fixed) → adjoint test instead of differences (may depend on the attributes). */
  linear: boolean[] | ((attrs: any) => boolean[]);
  /** Input values (default U(-1, 1)); used to keep away from kinks and ties. */
  draw?(i: number, n: number, rand: Rand): Float64Array;
  /** Attributes derived from the shapes (labels…). */
  attrs?(shapes: (number[] | null)[], rand: Rand): any;
}

const uni = (n: number, rand: Rand, lo = -1, hi = 1) => Float64Array.from({ length: n }, () => lo + (hi - lo) * rand());
/** Values in [-1, 1] spaced 2/n apart (no ties), in random order. */
const distinct = (n: number, rand: Rand) => {
  const v = Float64Array.from({ length: n }, (_, i) => -1 + (2 * i) / Math.max(n, 1));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return v;
};
const labelsFor = (shapes: (number[] | null)[], rand: Rand) => ({ labels: Int32Array.from({ length: shapes[0]![0] }, () => Math.floor(rand() * shapes[0]![1])) });
const size = (s: number[] | null) => (s ? s.reduce((a, b) => a * b, 1) : 0);
const elementwise = (f: (a: number, b: number) => number) => (x: Inputs) => x[0]!.map((v, i) => f(v, x[1]![i]));

/** The fused ReLU of conv2d / dense when attrs.relu. */
const reluIf = (a: { relu?: boolean }, y: Float64Array) => (a.relu ? y.map((v) => Math.max(v, 0)) : y);

export const REFS: Record<string, RefSpec> = {
  add: { ref: elementwise((a, b) => a + b), linear: [true, true] },
  sub: { ref: elementwise((a, b) => a - b), linear: [true, true] },
  mul: { ref: elementwise((a, b) => a * b), linear: [true, true] },
  scale: { ref: (x, _s, { c }) => x[0]!.map((v) => v * c), linear: [true] },
  addScalar: { ref: (x, _s, { c }) => x[0]!.map((v) => v + c), linear: [true] },
  relu: {
    ref: (x) => x[0]!.map((v) => Math.max(v, 0)),
    linear: [false],
    draw: (_i, n, rand) => uni(n, rand).map((v) => (v >= 0 ? v + 0.05 : v - 0.05)),
  },
  biasAdd: { ref: (x, s, a) => reluIf(a, x[0]!.map((v, i) => v + x[1]![i % s[1]![0]])), linear: (a) => [!a.relu, !a.relu] },
  sum: { ref: (x) => Float64Array.of(x[0]!.reduce((a, b) => a + b, 0)), linear: [true] },
  reshape: { ref: (x) => Float64Array.from(x[0]!), linear: [true] },
  matmul: { ref: (x, s) => denseRef(x[0]!, s[0]!, x[1]!, s[1]![1], null), linear: [true, true] },
  dense: { ref: (x, s, a) => reluIf(a, denseRef(x[0]!, s[0]!, x[1]!, s[1]![1], x[2])), linear: (a) => Array(3).fill(!a.relu) },
  conv2d: { ref: (x, s, a) => reluIf(a, conv2dRef(x[0]!, s[0]!, x[1]!, s[1]!, x[2], a.stride, a.padding).y), linear: (a) => Array(3).fill(!a.relu) },
  maxPool2d: { ref: (x, s, a) => reluIf(a, maxPoolRef(x[0]!, s[0]!)), linear: [false], draw: (_i, n, rand) => distinct(n, rand) },
  avgPool2d: {
    ref: (x, s, a) => avgPoolRef(x[0]!, { batch: s[0]![0], h: s[0]![1], w: s[0]![2], c: s[0]![3], kh: a.kh, kw: a.kw, sh: a.sh ?? 1, sw: a.sw ?? 1, ph: a.ph ?? 0, pw: a.pw ?? 0, includePad: !!a.includePad }),
    linear: [true],
  },
  maxPool: {
    ref: (x, s, a) => maxPoolGeneralRef(x[0]!, { batch: s[0]![0], h: s[0]![1], w: s[0]![2], c: s[0]![3], kh: a.kh, kw: a.kw, sh: a.sh ?? 1, sw: a.sw ?? 1, ph: a.ph ?? 0, pw: a.pw ?? 0, includePad: false }).y,
    linear: [false],
    draw: (_i, n, rand) => distinct(n, rand),
  },
  leakyRelu: {
    ref: (x, _s, a) => x[0]!.map((v) => (v > 0 ? v : a.alpha * v)),
    linear: [false],
    draw: (_i, n, rand) => uni(n, rand).map((v) => (v >= 0 ? v + 0.05 : v - 0.05)),
  },
  softmaxCrossEntropy: { ref: (x, s, a) => xentRef(x[0]!, s[0]!, a.labels), linear: [false], attrs: labelsFor, draw: (_i, n, rand) => uni(n, rand, -3, 3) },
  spatialTransform: {
    ref: (x, s) => spatialRef(x[0]!, s[0]![0], s[0]![1], s[0]![2], s[0]![3], x[1]!),
    linear: [true, false],
    // Angles within ±0.5 rad, shifts within ±2 px (inside the paper's ±30°, ±3 px).
    draw: (i, n, rand) => (i === 0 ? uni(n, rand, 0, 1) : Float64Array.from({ length: n }, (_, k) => (k % 3 === 0 ? 0.5 : 2) * (2 * rand() - 1))),
  },
  marginLoss: { ref: (x, s, a) => marginRef(x[0]!, s[0]!, a.labels), linear: [false], attrs: labelsFor, draw: (_i, n, rand) => distinct(n, rand).map((v) => 3 * v) },
};

export interface CheckOptions {
  attrs?: Record<string, unknown>;
  /** Forward tolerance (default atol 1e-4, rtol 1e-4). */
  atol?: number;
  rtol?: number;
  /** Gradient tolerance (tinygrad-like defaults: atol 1e-4, rtol 1e-3). */
  gradAtol?: number;
  gradRtol?: number;
  /** Max elements checked by central differences per input (random subset). */
  maxProbes?: number;
  seed?: number;
  engine?: Engine;
  /** Kernels that must run (engine.calls) during the checks, e.g. the Winograd ones. */
  kernels?: string[];
}

function toTensors(engine: Engine, xs: Inputs, shapes: (number[] | null)[], gradFor: number): (Tensor | null)[] {
  return xs.map((x, i) => (x ? Tensor.from(engine, x, shapes[i]!, { requiresGrad: i === gradFor }) : null));
}

/** Runs the forward, adjoint/finite-difference and shape checks of op `name` on `shapes`. */
export async function checkOp(name: string, shapes: (number[] | null)[], opts: CheckOptions = {}): Promise<void> {
  const spec = REFS[name];
  if (!spec) throw new Error(`checkOp: no reference spec for op '${name}' in REFS`);
  const engine = opts.engine ?? (await engineFor('simd'));
  const rand = rng(opts.seed ?? 7);
  const attrs = { ...(spec.attrs ? spec.attrs(shapes, rand) : {}), ...(opts.attrs ?? {}) };
  // Inputs rounded to f32, so the float64 reference sees exactly what the op sees.
  const xs: Inputs = shapes.map((s, i) => (s ? (spec.draw ? spec.draw(i, size(s), rand) : uni(size(s), rand)).map(Math.fround) : null));
  const op = getOp(name);
  engine.calls.clear();
  engine.arena.scope(() => {
    // 1. forward vs float64 reference.
    const want = spec.ref(xs, shapes, attrs);
    const out = noGrad(() => op.apply(toTensors(engine, xs, shapes, -1), attrs));
    assertClose(`${name} forward`, out.toArray(), want, { atol: opts.atol ?? 1e-4, rtol: opts.rtol ?? 1e-4 });
    const u = uni(out.size, rand);
    // 2. per input: gradient with only that input requiring one.
    for (let i = 0; i < xs.length; i++) {
      if (!xs[i]) continue;
      const ins = toTensors(engine, xs, shapes, i);
      const y = op.apply(ins, attrs);
      backward(y, Tensor.from(engine, u, y.shape));
      const g = ins[i]!.grad!.toArray();
      expect(g.length, `${name}: gradient of input ${i} has the input's size`).toBe(xs[i]!.length);
      const gAtol = opts.gradAtol ?? 1e-4, gRtol = opts.gradRtol ?? 1e-3;
      const linear = typeof spec.linear === 'function' ? spec.linear(attrs) : spec.linear;
      if (linear[i]) {
        // Adjoint: ⟨f(v) − f(0), u⟩ = ⟨v, Aᵀu⟩ (subtracting f(0) removes the affine part).
        const v = uni(xs[i]!.length, rand);
        const at = (val: Float64Array) => noGrad(() => op.apply(toTensors(engine, xs.map((x, k) => (k === i ? val : x)), shapes, -1), attrs).toArray());
        const fv = at(v), f0 = at(new Float64Array(v.length));
        const lhs = dot(fv.map((a, k) => a - f0[k]), u), rhs = dot(v, g);
        const scale = Math.sqrt(dot(fv, fv) * dot(u, u)) + 1;
        expect(Math.abs(lhs - rhs), `${name} adjoint input ${i}: ⟨Av,u⟩=${lhs} ⟨v,Aᵀu⟩=${rhs}`).toBeLessThan(1e-5 * scale);
        // Bilinear ops: the adjoint holds for any fixed other inputs; also check against the reference.
        const refGrad = fdGrad(spec, xs, shapes, attrs, u, i, opts.maxProbes ?? 64, rand);
        checkProbes(`${name} d/d input ${i} (vs float64 differences)`, g, refGrad, gAtol, gRtol);
      } else {
        const refGrad = fdGrad(spec, xs, shapes, attrs, u, i, opts.maxProbes ?? 64, rand);
        checkProbes(`${name} d/d input ${i} (central differences)`, g, refGrad, gAtol, gRtol);
      }
    }
  });
  const ran = [...engine.calls.keys()];
  for (const k of opts.kernels ?? []) expect(ran, `${name}: kernel ${k} ran`).toContain(k);
  markChecked(name);
}

/** Central differences of ⟨u, ref(x)⟩ at a random subset of elements of input i: [index, value] pairs. */
function fdGrad(spec: RefSpec, xs: Inputs, shapes: (number[] | null)[], attrs: unknown, u: Float64Array, i: number, maxProbes: number, rand: Rand): [number, number][] {
  const n = xs[i]!.length;
  const probes = n <= maxProbes ? Array.from({ length: n }, (_, k) => k) : Array.from({ length: maxProbes }, () => Math.floor(rand() * n));
  const h = 1e-6;
  const x = xs.map((a) => (a ? Float64Array.from(a) : null));
  return probes.map((k) => {
    const orig = x[i]![k];
    x[i]![k] = orig + h;
    const fp = dot(spec.ref(x, shapes, attrs), u);
    x[i]![k] = orig - h;
    const fm = dot(spec.ref(x, shapes, attrs), u);
    x[i]![k] = orig;
    return [k, (fp - fm) / (2 * h)];
  });
}

function checkProbes(label: string, got: Float32Array, want: [number, number][], atol: number, rtol: number): void {
  assertClose(label, want.map(([k]) => got[k]), want.map(([, v]) => v), { atol, rtol });
}
