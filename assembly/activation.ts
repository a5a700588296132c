// Bias add (optionally fused with ReLU), ReLU, and their backward passes.
//
// Buffers (row-major f32):
//   f32_bias_add_fwd  x: (rows, cols), bias: (cols), y: (rows, cols); y = x + bias (then ReLU when
//                     relu != 0). In place allowed (y == x).
//     params: 0 rows, 1 cols, 2 x, 3 bias, 4 y, 5 relu (0/1). Range: rows.
//   f32_bias_add_bwd  dy: (rows, cols), partial: (cols); partial[c] = Σ_{r in [begin,end)} dy[r, c]
//                     (overwrites partial). A reduction across rows: 5-argument signature.
//     params: 0 rows, 1 cols, 2 dy. Range: rows.
//   f32_relu_fwd      x, y: (n); y = max(x, 0). In place allowed.
//     params: 0 n, 1 x, 2 y. Range: elements.
//   f32_relu_bwd      y (the forward OUTPUT), dy, dx: (n); dx = y > 0 ? dy : 0. In place allowed
//                     (dx == dy). NOTE: relu'(0) = 0, and a NaN y passes no gradient.
//     params: 0 n, 1 y, 2 dy, 3 dx. Range: elements.
// Variants: __scalar is the readable reference; __simd runs f32x4 across columns/elements with a
//   scalar tail. Both do the same f32 operations in the same order: results are bit-identical.
//   ReLU is max(v, 0) (wasm f32.max: NaN stays NaN, -0 becomes +0), as in gemm.ts.
// Threading contract: [begin, end) splits rows (bias add, bias bwd) or elements (ReLU). bias bwd
//   sums each column in increasing row order within a part; the caller reduces parts in a fixed
//   order, so results depend on the worker count only (float re-association, ~1e-7 relative).
// Scratch: none.
import { paramF32, paramI32, paramPtr } from "./simd";

// ---------------------------------------------------------------------------------------------
// Bias add (+ ReLU)
// ---------------------------------------------------------------------------------------------

export function f32_bias_add_fwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const cols = paramI32(params, 1);
  const x = paramPtr(params, 2), bias = paramPtr(params, 3), y = paramPtr(params, 4);
  const relu = paramI32(params, 5) != 0;
  for (let r = begin; r < end; r++) {
    const row = <usize>r * cols;
    for (let c = 0; c < cols; c++) {
      let v = load<f32>(x + ((row + c) << 2)) + load<f32>(bias + (<usize>c << 2));
      if (relu) v = max<f32>(v, 0);
      store<f32>(y + ((row + c) << 2), v);
    }
  }
}

export function f32_bias_add_fwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const cols = paramI32(params, 1);
  const x = paramPtr(params, 2), bias = paramPtr(params, 3), y = paramPtr(params, 4);
  const relu = paramI32(params, 5) != 0;
  const vzero = f32x4.splat(0);
  for (let r = begin; r < end; r++) {
    const xr = x + ((<usize>r * cols) << 2), yr = y + ((<usize>r * cols) << 2);
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const off = <usize>c << 2;
      let vy = f32x4.add(v128.load(xr + off), v128.load(bias + off));
      if (relu) vy = f32x4.max(vy, vzero);
      v128.store(yr + off, vy);
    }
    for (; c < cols; c++) {
      const off = <usize>c << 2;
      let v = load<f32>(xr + off) + load<f32>(bias + off);
      if (relu) v = max<f32>(v, 0);
      store<f32>(yr + off, v);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Bias backward: column sums of dy over a row range (reduction)
// ---------------------------------------------------------------------------------------------

export function f32_bias_add_bwd__scalar(params: usize, begin: i32, end: i32, scratch: usize, partial: usize): void {
  const cols = paramI32(params, 1);
  const dy = paramPtr(params, 2);
  for (let c = 0; c < cols; c++) {
    let sum: f32 = 0;
    for (let r = begin; r < end; r++) sum += load<f32>(dy + ((<usize>r * cols + c) << 2));
    store<f32>(partial + (<usize>c << 2), sum);
  }
}

export function f32_bias_add_bwd__simd(params: usize, begin: i32, end: i32, scratch: usize, partial: usize): void {
  const cols = paramI32(params, 1);
  const dy = paramPtr(params, 2);
  const rowBytes = <usize>cols << 2;
  let c = 0;
  // 16 columns at a time: four accumulators walk down the rows.
  for (; c + 16 <= cols; c += 16) {
    let vacc0 = f32x4.splat(0), vacc1 = f32x4.splat(0), vacc2 = f32x4.splat(0), vacc3 = f32x4.splat(0);
    let p = dy + <usize>begin * rowBytes + (<usize>c << 2);
    for (let r = begin; r < end; r++) {
      vacc0 = f32x4.add(vacc0, v128.load(p));
      vacc1 = f32x4.add(vacc1, v128.load(p, 16));
      vacc2 = f32x4.add(vacc2, v128.load(p, 32));
      vacc3 = f32x4.add(vacc3, v128.load(p, 48));
      p += rowBytes;
    }
    const out = partial + (<usize>c << 2);
    v128.store(out, vacc0);
    v128.store(out, vacc1, 16);
    v128.store(out, vacc2, 32);
    v128.store(out, vacc3, 48);
  }
  for (; c + 4 <= cols; c += 4) {
    let vacc = f32x4.splat(0);
    let p = dy + <usize>begin * rowBytes + (<usize>c << 2);
    for (let r = begin; r < end; r++) {
      vacc = f32x4.add(vacc, v128.load(p));
      p += rowBytes;
    }
    v128.store(partial + (<usize>c << 2), vacc);
  }
  for (; c < cols; c++) {
    let sum: f32 = 0;
    let p = dy + <usize>begin * rowBytes + (<usize>c << 2);
    for (let r = begin; r < end; r++) {
      sum += load<f32>(p);
      p += rowBytes;
    }
    store<f32>(partial + (<usize>c << 2), sum);
  }
}

// ---------------------------------------------------------------------------------------------
// ReLU forward / backward
// ---------------------------------------------------------------------------------------------

export function f32_relu_fwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const x = paramPtr(params, 1), y = paramPtr(params, 2);
  for (let i = begin; i < end; i++) {
    store<f32>(y + (<usize>i << 2), max<f32>(load<f32>(x + (<usize>i << 2)), 0));
  }
}

export function f32_relu_fwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const x = paramPtr(params, 1), y = paramPtr(params, 2);
  const vzero = f32x4.splat(0);
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    const off = <usize>i << 2;
    v128.store(y + off, f32x4.max(v128.load(x + off), vzero));
  }
  for (; i < end; i++) {
    store<f32>(y + (<usize>i << 2), max<f32>(load<f32>(x + (<usize>i << 2)), 0));
  }
}

export function f32_relu_bwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const y = paramPtr(params, 1), dy = paramPtr(params, 2), dx = paramPtr(params, 3);
  for (let i = begin; i < end; i++) {
    const off = <usize>i << 2;
    store<f32>(dx + off, load<f32>(y + off) > 0 ? load<f32>(dy + off) : 0);
  }
}

export function f32_relu_bwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const y = paramPtr(params, 1), dy = paramPtr(params, 2), dx = paramPtr(params, 3);
  const vzero = f32x4.splat(0);
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    const off = <usize>i << 2;
    // Lanes where y > 0 keep dy's bits, the others become +0.
    v128.store(dx + off, v128.and(v128.load(dy + off), f32x4.gt(v128.load(y + off), vzero)));
  }
  for (; i < end; i++) {
    const off = <usize>i << 2;
    store<f32>(dx + off, load<f32>(y + off) > 0 ? load<f32>(dy + off) : 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Leaky ReLU: y = x > 0 ? x : α·x;  dx = x > 0 ? dy : α·dy (x: the forward INPUT).
//   f32_leaky_relu_fwd  params: 0 n, 1 x, 2 y, 3 alpha (f32). Range: elements. In place allowed.
//   f32_leaky_relu_bwd  params: 0 n, 1 x, 2 dy, 3 dx, 4 alpha (f32). Range: elements. In place
//                       allowed (dx == dy). NOTE: the slope at 0 is α; a NaN x gives α·dy.
// ---------------------------------------------------------------------------------------------

export function f32_leaky_relu_fwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const x = paramPtr(params, 1), y = paramPtr(params, 2), alpha = paramF32(params, 3);
  for (let i = begin; i < end; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    store<f32>(y + (<usize>i << 2), v > 0 ? v : alpha * v);
  }
}

export function f32_leaky_relu_fwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const x = paramPtr(params, 1), y = paramPtr(params, 2), alpha = paramF32(params, 3);
  const va = f32x4.splat(alpha), vzero = f32x4.splat(0);
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    v128.store(y + (<usize>i << 2), v128.bitselect(v, f32x4.mul(va, v), f32x4.gt(v, vzero)));
  }
  for (; i < end; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    store<f32>(y + (<usize>i << 2), v > 0 ? v : alpha * v);
  }
}

export function f32_leaky_relu_bwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const x = paramPtr(params, 1), dy = paramPtr(params, 2), dx = paramPtr(params, 3), alpha = paramF32(params, 4);
  for (let i = begin; i < end; i++) {
    const g = load<f32>(dy + (<usize>i << 2));
    store<f32>(dx + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) > 0 ? g : alpha * g);
  }
}

export function f32_leaky_relu_bwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const x = paramPtr(params, 1), dy = paramPtr(params, 2), dx = paramPtr(params, 3), alpha = paramF32(params, 4);
  const va = f32x4.splat(alpha), vzero = f32x4.splat(0);
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    const g = v128.load(dy + (<usize>i << 2));
    v128.store(dx + (<usize>i << 2), v128.bitselect(g, f32x4.mul(va, g), f32x4.gt(v128.load(x + (<usize>i << 2)), vzero)));
  }
  for (; i < end; i++) {
    const g = load<f32>(dy + (<usize>i << 2));
    store<f32>(dx + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) > 0 ? g : alpha * g);
  }
}
