// TS wrappers of the in-place optimizer updates (assembly/optim.ts), with torch.optim semantics.
// Buffers: param, grad and the state (m, v for Adam; velocity for SGD) hold n f32 each; param and
// the state are updated in place, grad is read. Threading: elements; no reduction.
import type { Engine } from '../wasm/engine.ts';
import { Params } from '../wasm/engine.ts';
import type { F32Buf } from '../wasm/memory.ts';
import { checkBuf, checkDisjoint, checkFinite, checkInt } from './check.ts';

export interface AdamStepArgs {
  param: F32Buf;
  grad: F32Buf;
  /** First-moment state (zero before the first step). */
  m: F32Buf;
  /** Second-moment state (zero before the first step). */
  v: F32Buf;
  n: number;
  lr: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** 1 for the first update; drives the bias corrections. */
  step: number;
  /** NOTE: L2 added to the gradient (torch.optim.Adam's weight_decay), not AdamW. Default 0. */
  weightDecay?: number;
}

export interface SgdStepArgs {
  param: F32Buf;
  grad: F32Buf;
  /** Momentum buffer; may be null when momentum is 0. */
  velocity?: F32Buf | null;
  n: number;
  lr: number;
  /** Default 0 (plain SGD). */
  momentum?: number;
  /** L2 added to the gradient, as torch.optim.SGD. Default 0. */
  weightDecay?: number;
  /** Nesterov momentum (needs momentum > 0). Default false. */
  nesterov?: boolean;
  /** True on the first update: velocity = g (torch initialises the buffer this way). */
  firstStep: boolean;
}

/** Throws unless `value` is finite and in [lo, hi] (or [lo, hi) when `hiOpen`). */
function checkRange(fn: string, name: string, value: number, lo: number, hi: number, hiOpen = false): number {
  checkFinite(fn, name, value);
  if (value < lo || (hiOpen ? value >= hi : value > hi)) {
    throw new RangeError(`${fn}: ${name} must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${value}`);
  }
  return value;
}

function checkStateBufs(fn: string, n: number, bufs: [string, F32Buf][]): void {
  for (const [name, buf] of bufs) checkBuf(fn, name, buf, n);
  for (let i = 0; i < bufs.length; i++) {
    for (let j = i + 1; j < bufs.length; j++) checkDisjoint(fn, bufs[i][0], bufs[i][1], n, bufs[j][0], bufs[j][1], n);
  }
}

/**
 * One Adam step, as torch.optim.Adam (amsgrad off):
 *   g = grad + wd·p; m = β1 m + (1−β1) g; v = β2 v + (1−β2) g²;
 *   p −= lr/(1−β1^t) · m / (√v / √(1−β2^t) + eps).
 */
export function adamStep(engine: Engine, args: AdamStepArgs): void {
  const fn = 'adamStep';
  const n = checkInt(fn, 'n', args.n);
  const lr = checkRange(fn, 'lr', args.lr, 0, Infinity);
  const beta1 = checkRange(fn, 'beta1', args.beta1 ?? 0.9, 0, 1, true);
  const beta2 = checkRange(fn, 'beta2', args.beta2 ?? 0.999, 0, 1, true);
  const eps = checkRange(fn, 'eps', args.eps ?? 1e-8, 0, Infinity);
  const step = checkInt(fn, 'step', args.step, 1);
  const weightDecay = checkRange(fn, 'weightDecay', args.weightDecay ?? 0, 0, Infinity);
  checkStateBufs(fn, n, [['param', args.param], ['grad', args.grad], ['m', args.m], ['v', args.v]]);
  // Bias corrections and 1 − β in float64, then rounded to f32, as torch does on the host.
  const stepSize = lr / (1 - beta1 ** step);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  const p = new Params()
    .i32(n).ptr(args.param).ptr(args.grad).ptr(args.m).ptr(args.v)
    .f32(beta1).f32(1 - beta1).f32(beta2).f32(1 - beta2).f32(stepSize).f32(bc2Sqrt).f32(eps).f32(weightDecay);
  engine.run('f32_adam_update', p, n, 12 * n);
}

/**
 * One SGD step, as torch.optim.SGD (dampening 0):
 *   g = grad + wd·p; with momentum: buf = firstStep ? g : momentum·buf + g, g = nesterov ? g + momentum·buf : buf;
 *   p −= lr·g.
 */
export function sgdStep(engine: Engine, args: SgdStepArgs): void {
  const fn = 'sgdStep';
  const n = checkInt(fn, 'n', args.n);
  const lr = checkRange(fn, 'lr', args.lr, 0, Infinity);
  const momentum = checkRange(fn, 'momentum', args.momentum ?? 0, 0, Infinity);
  const weightDecay = checkRange(fn, 'weightDecay', args.weightDecay ?? 0, 0, Infinity);
  const nesterov = !!args.nesterov;
  if (nesterov && momentum === 0) throw new RangeError(`${fn}: nesterov needs momentum > 0`);
  if (typeof args.firstStep !== 'boolean') throw new TypeError(`${fn}: firstStep must be a boolean, got ${args.firstStep}`);
  const bufs: [string, F32Buf][] = [['param', args.param], ['grad', args.grad]];
  if (momentum !== 0) {
    if (!args.velocity) throw new TypeError(`${fn}: velocity must be a buffer {ptr, length} when momentum is ${momentum}, got ${args.velocity}`);
    bufs.push(['velocity', args.velocity]);
  }
  checkStateBufs(fn, n, bufs);
  const flags = (nesterov ? 1 : 0) | (args.firstStep ? 2 : 0);
  const p = new Params()
    .i32(n).ptr(args.param).ptr(args.grad).ptr(momentum !== 0 ? args.velocity : null)
    .f32(lr).f32(momentum).f32(weightDecay).i32(flags);
  engine.run('f32_sgd_update', p, n, 4 * n);
}
