// Elementwise optimizer updates, in place: Adam and SGD with momentum (torch.optim semantics).
//
// Buffers (f32, n elements each): param, grad, and the state (m, v for Adam; velocity for SGD),
//   all updated in place except grad (read only).
// f32_adam_update (torch.optim.Adam, amsgrad=False, maximize=False):
//   g = grad + wd·p                                   NOTE: L2 in the gradient (torch's weight_decay),
//   m = β1·m + (1−β1)·g                                     not AdamW's decoupled decay.
//   v = β2·v + (1−β2)·g²
//   p = p − stepSize · m / (√v / bc2Sqrt + ε)          stepSize = lr / (1 − β1^t), bc2Sqrt = √(1 − β2^t),
//                                                       both computed on the TS side (as torch does).
//   1 − β1 and 1 − β2 also come from the TS side, computed in float64 and then rounded, as torch
//   passes them to its f32 tensor ops (1 − f32(0.999) would be 1.3e-5 off in relative terms).
//   params: 0 n, 1 param, 2 grad, 3 m, 4 v, 5 β1, 6 1−β1, 7 β2, 8 1−β2, 9 stepSize, 10 bc2Sqrt,
//           11 ε, 12 wd (fields 5..12 f32).
// f32_sgd_update (torch.optim.SGD, dampening = 0):
//   g = grad + wd·p
//   momentum ≠ 0: buf = first ? g : momentum·buf + g;  g = nesterov ? g + momentum·buf : buf
//   p = p − lr·g
//   NOTE: like torch, the first step sets buf = g (flag bit 1), not momentum·0 + g — the same value;
//   the flag only matters because the velocity buffer may hold garbage before the first step.
//   With momentum = 0 the velocity is neither read nor written (its pointer may be 0).
//   params: 0 n, 1 param, 2 grad, 3 velocity, 4 lr (f32), 5 momentum (f32), 6 wd (f32),
//           7 flags (bit 0 nesterov, bit 1 first step).
// Variants: __scalar is the readable reference; __simd does the same f32 operations (no fused
//   multiply-add) in f32x4 lanes with a scalar tail, so results are bit-identical.
// Threading contract: [begin, end) splits elements; independent, results do not depend on the split.
// Scratch: none.
// Sources: PyTorch torch/optim/adam.py `_single_tensor_adam`, torch/optim/sgd.py `_single_tensor_sgd`;
//   Kingma & Ba, "Adam" (2015), Algorithm 1.
import { paramF32, paramI32, paramPtr } from "./simd";

const FLAG_NESTEROV: i32 = 1;
const FLAG_FIRST_STEP: i32 = 2;

// ---------------------------------------------------------------------------------------------
// Adam
// ---------------------------------------------------------------------------------------------

export function f32_adam_update__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const param = paramPtr(params, 1), grad = paramPtr(params, 2), m = paramPtr(params, 3), v = paramPtr(params, 4);
  const beta1 = paramF32(params, 5), oneMinusBeta1 = paramF32(params, 6);
  const beta2 = paramF32(params, 7), oneMinusBeta2 = paramF32(params, 8);
  const stepSize = paramF32(params, 9), bc2Sqrt = paramF32(params, 10);
  const eps = paramF32(params, 11), wd = paramF32(params, 12);
  for (let i = begin; i < end; i++) {
    const off = <usize>i << 2;
    const p = load<f32>(param + off);
    const g = load<f32>(grad + off) + wd * p;
    const mi = beta1 * load<f32>(m + off) + oneMinusBeta1 * g;
    const vi = beta2 * load<f32>(v + off) + oneMinusBeta2 * (g * g);
    store<f32>(m + off, mi);
    store<f32>(v + off, vi);
    store<f32>(param + off, p - stepSize * (mi / (Mathf.sqrt(vi) / bc2Sqrt + eps)));
  }
}

export function f32_adam_update__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const param = paramPtr(params, 1), grad = paramPtr(params, 2), m = paramPtr(params, 3), v = paramPtr(params, 4);
  const beta1 = paramF32(params, 5), oneMinusBeta1 = paramF32(params, 6);
  const beta2 = paramF32(params, 7), oneMinusBeta2 = paramF32(params, 8);
  const stepSize = paramF32(params, 9), bc2Sqrt = paramF32(params, 10);
  const eps = paramF32(params, 11), wd = paramF32(params, 12);
  const vbeta1 = f32x4.splat(beta1), vbeta2 = f32x4.splat(beta2);
  const v1mb1 = f32x4.splat(oneMinusBeta1), v1mb2 = f32x4.splat(oneMinusBeta2);
  const vstep = f32x4.splat(stepSize), vbc2 = f32x4.splat(bc2Sqrt), veps = f32x4.splat(eps), vwd = f32x4.splat(wd);
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    const off = <usize>i << 2;
    const vp = v128.load(param + off);
    const vg = f32x4.add(v128.load(grad + off), f32x4.mul(vwd, vp));
    const vm = f32x4.add(f32x4.mul(vbeta1, v128.load(m + off)), f32x4.mul(v1mb1, vg));
    const vv = f32x4.add(f32x4.mul(vbeta2, v128.load(v + off)), f32x4.mul(v1mb2, f32x4.mul(vg, vg)));
    v128.store(m + off, vm);
    v128.store(v + off, vv);
    const vdenom = f32x4.add(f32x4.div(f32x4.sqrt(vv), vbc2), veps);
    v128.store(param + off, f32x4.sub(vp, f32x4.mul(vstep, f32x4.div(vm, vdenom))));
  }
  for (; i < end; i++) {
    const off = <usize>i << 2;
    const p = load<f32>(param + off);
    const g = load<f32>(grad + off) + wd * p;
    const mi = beta1 * load<f32>(m + off) + oneMinusBeta1 * g;
    const vi = beta2 * load<f32>(v + off) + oneMinusBeta2 * (g * g);
    store<f32>(m + off, mi);
    store<f32>(v + off, vi);
    store<f32>(param + off, p - stepSize * (mi / (Mathf.sqrt(vi) / bc2Sqrt + eps)));
  }
}

// ---------------------------------------------------------------------------------------------
// SGD with momentum
// ---------------------------------------------------------------------------------------------

export function f32_sgd_update__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const param = paramPtr(params, 1), grad = paramPtr(params, 2), velocity = paramPtr(params, 3);
  const lr = paramF32(params, 4), momentum = paramF32(params, 5), wd = paramF32(params, 6);
  const flags = paramI32(params, 7);
  const nesterov = (flags & FLAG_NESTEROV) != 0, first = (flags & FLAG_FIRST_STEP) != 0;
  for (let i = begin; i < end; i++) {
    const off = <usize>i << 2;
    const p = load<f32>(param + off);
    let g = load<f32>(grad + off) + wd * p;
    if (momentum != 0) {
      const buf = first ? g : momentum * load<f32>(velocity + off) + g;
      store<f32>(velocity + off, buf);
      g = nesterov ? g + momentum * buf : buf;
    }
    store<f32>(param + off, p - lr * g);
  }
}

export function f32_sgd_update__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const param = paramPtr(params, 1), grad = paramPtr(params, 2), velocity = paramPtr(params, 3);
  const lr = paramF32(params, 4), momentum = paramF32(params, 5), wd = paramF32(params, 6);
  const flags = paramI32(params, 7);
  const nesterov = (flags & FLAG_NESTEROV) != 0, first = (flags & FLAG_FIRST_STEP) != 0;
  const useMomentum = momentum != 0;
  const vlr = f32x4.splat(lr), vmom = f32x4.splat(momentum), vwd = f32x4.splat(wd);
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    const off = <usize>i << 2;
    const vp = v128.load(param + off);
    let vg = f32x4.add(v128.load(grad + off), f32x4.mul(vwd, vp));
    if (useMomentum) {
      const vbuf = first ? vg : f32x4.add(f32x4.mul(vmom, v128.load(velocity + off)), vg);
      v128.store(velocity + off, vbuf);
      vg = nesterov ? f32x4.add(vg, f32x4.mul(vmom, vbuf)) : vbuf;
    }
    v128.store(param + off, f32x4.sub(vp, f32x4.mul(vlr, vg)));
  }
  for (; i < end; i++) {
    const off = <usize>i << 2;
    const p = load<f32>(param + off);
    let g = load<f32>(grad + off) + wd * p;
    if (useMomentum) {
      const buf = first ? g : momentum * load<f32>(velocity + off) + g;
      store<f32>(velocity + off, buf);
      g = nesterov ? g + momentum * buf : buf;
    }
    store<f32>(param + off, p - lr * g);
  }
}
