// Max-pool 2×2, stride 2, VALID (floor) windows, forward and backward.
//
// Buffers (f32, NHWC):
//   x:  (N, H, W, C)          dx: (N, H, W, C)
//   y:  (N, OH, OW, C)        dy: (N, OH, OW, C)      with OH = floor(H/2), OW = floor(W/2).
//   NOTE: floor, as PyTorch MaxPool2d(2) / TF VALID: an odd last row/column of x is dropped.
// Parameter blocks (i32 fields, see src/kernels/pool.ts):
//   f32_maxpool2d_fwd  0 N, 1 H, 2 W, 3 C, 4 x, 5 y, 6 flags.
//   f32_maxpool2d_bwd  0 N, 1 H, 2 W, 3 C, 4 x, 5 dy, 6 dx, 7 flags.
//   flags bit 1: fused ReLU after the pool, y = max(window max, 0) (as f32_relu_fwd: NaN stays NaN);
//   backward routes dy only where the window max is > 0 (as f32_relu_bwd: where y > 0). Equal to ReLU then pool (ReLU is monotone), in values and gradients,
//   with a ReLU pass over the 4× smaller pooled map instead of the full one.
// Semantics: the window is scanned (0,0), (0,1), (1,0), (1,1); a value replaces the running max
//   only when strictly greater. NOTE: ties send the gradient to the FIRST max in that order; a NaN
//   after the first window element is never selected. Backward overwrites all of dx: entries not
//   selected by any window (including a dropped odd row/column) get 0.
// Variants: __scalar is the readable reference; __simd runs f32x4 across channels (compare +
//   bitselect with the same strict order, so results are bit-identical) with a scalar tail.
// Threading contract: [begin, end) splits output rows r = n*OH + oh (0 <= r <= N*OH). Output row r
//   reads x rows 2oh, 2oh+1 and backward writes exactly those dx rows, plus the dropped odd row
//   H-1 when oh = OH-1, so parts never overlap. The caller zero-fills dx itself when OH = 0.
// Scratch: none.
import { paramI32, paramPtr, zeroF32 } from "./simd";

const FLAG_RELU: i32 = 2;

// ---------------------------------------------------------------------------------------------
// Scalar reference
// ---------------------------------------------------------------------------------------------

export function f32_maxpool2d_fwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const x = paramPtr(params, 4), y = paramPtr(params, 5), relu = (paramI32(params, 6) & FLAG_RELU) != 0;
  const OH = H >> 1, OW = W >> 1;
  for (let r = begin; r < end; r++) {
    const n = r / OH, oh = r % OH;
    for (let ow = 0; ow < OW; ow++) {
      for (let c = 0; c < C; c++) {
        let best = load<f32>(x + (xIndex(n, 2 * oh, 2 * ow, c, H, W, C) << 2));
        for (let k = 1; k < 4; k++) {
          const v = load<f32>(x + (xIndex(n, 2 * oh + (k >> 1), 2 * ow + (k & 1), c, H, W, C) << 2));
          if (v > best) best = v;
        }
        if (relu) best = max<f32>(best, 0);
        store<f32>(y + ((((<usize>r * OW + ow) * C) + c) << 2), best);
      }
    }
  }
}

export function f32_maxpool2d_bwd__scalar(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const x = paramPtr(params, 4), dy = paramPtr(params, 5), dx = paramPtr(params, 6);
  const relu = (paramI32(params, 7) & FLAG_RELU) != 0;
  const OH = H >> 1, OW = W >> 1;
  for (let r = begin; r < end; r++) {
    const n = r / OH, oh = r % OH;
    // Zero the two window rows (and the dropped odd row), then route each dy to its first max.
    const lastRow = oh == OH - 1 ? H : 2 * oh + 2;
    for (let h = 2 * oh; h < lastRow; h++) {
      for (let w = 0; w < W; w++) {
        for (let c = 0; c < C; c++) store<f32>(dx + (xIndex(n, h, w, c, H, W, C) << 2), 0);
      }
    }
    for (let ow = 0; ow < OW; ow++) {
      for (let c = 0; c < C; c++) {
        let best = load<f32>(x + (xIndex(n, 2 * oh, 2 * ow, c, H, W, C) << 2));
        let bestK = 0;
        for (let k = 1; k < 4; k++) {
          const v = load<f32>(x + (xIndex(n, 2 * oh + (k >> 1), 2 * ow + (k & 1), c, H, W, C) << 2));
          if (v > best) {
            best = v;
            bestK = k;
          }
        }
        let g = load<f32>(dy + ((((<usize>r * OW + ow) * C) + c) << 2));
        if (relu && !(best > 0)) g = 0;
        store<f32>(dx + (xIndex(n, 2 * oh + (bestK >> 1), 2 * ow + (bestK & 1), c, H, W, C) << 2), g);
      }
    }
  }
}

/** Element index of x[n, h, w, c] in an (N, H, W, C) tensor. */
// @ts-ignore: decorator
@inline function xIndex(n: i32, h: i32, w: i32, c: i32, H: i32, W: i32, C: i32): usize {
  return ((<usize>n * H + h) * W + w) * C + c;
}

// ---------------------------------------------------------------------------------------------
// SIMD across channels
// ---------------------------------------------------------------------------------------------

export function f32_maxpool2d_fwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const x = paramPtr(params, 4), y = paramPtr(params, 5), relu = (paramI32(params, 6) & FLAG_RELU) != 0;
  const OH = H >> 1, OW = W >> 1;
  const pixelBytes = <usize>C << 2, rowBytes = <usize>W * pixelBytes;
  const zero = f32x4.splat(0);
  for (let r = begin; r < end; r++) {
    const n = r / OH, oh = r % OH;
    const x0 = x + (<usize>n * H + 2 * oh) * rowBytes; // window row 0
    const x1 = x0 + rowBytes;                          // window row 1
    const yr = y + <usize>r * OW * pixelBytes;
    for (let ow = 0; ow < OW; ow++) {
      const a = x0 + <usize>(2 * ow) * pixelBytes, b = a + pixelBytes;
      const cc = x1 + <usize>(2 * ow) * pixelBytes, d = cc + pixelBytes;
      const out = yr + <usize>ow * pixelBytes;
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const off = <usize>c << 2;
        let vmax = v128.load(a + off);
        const vb = v128.load(b + off), vc = v128.load(cc + off), vd = v128.load(d + off);
        vmax = v128.bitselect(vb, vmax, f32x4.gt(vb, vmax));
        vmax = v128.bitselect(vc, vmax, f32x4.gt(vc, vmax));
        vmax = v128.bitselect(vd, vmax, f32x4.gt(vd, vmax));
        if (relu) vmax = f32x4.max(vmax, zero);
        v128.store(out + off, vmax);
      }
      for (; c < C; c++) {
        const off = <usize>c << 2;
        let best = load<f32>(a + off);
        const vb = load<f32>(b + off), vc = load<f32>(cc + off), vd = load<f32>(d + off);
        if (vb > best) best = vb;
        if (vc > best) best = vc;
        if (vd > best) best = vd;
        if (relu) best = max<f32>(best, 0);
        store<f32>(out + off, best);
      }
    }
  }
}

export function f32_maxpool2d_bwd__simd(params: usize, begin: i32, end: i32, scratch: usize): void {
  const H = paramI32(params, 1), W = paramI32(params, 2), C = paramI32(params, 3);
  const x = paramPtr(params, 4), dy = paramPtr(params, 5), dx = paramPtr(params, 6);
  const relu = (paramI32(params, 7) & FLAG_RELU) != 0;
  const OH = H >> 1, OW = W >> 1;
  const pixelBytes = <usize>C << 2, rowBytes = <usize>W * pixelBytes;
  const zero = f32x4.splat(0);
  for (let r = begin; r < end; r++) {
    const n = r / OH, oh = r % OH;
    const rowOffset = (<usize>n * H + 2 * oh) * rowBytes;
    const x0 = x + rowOffset, x1 = x0 + rowBytes;
    const dx0 = dx + rowOffset, dx1 = dx0 + rowBytes;
    const dyr = dy + <usize>r * OW * pixelBytes;
    for (let ow = 0; ow < OW; ow++) {
      const pa = <usize>(2 * ow) * pixelBytes, pb = pa + pixelBytes;
      const g = dyr + <usize>ow * pixelBytes;
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const off = <usize>c << 2;
        const va = v128.load(x0 + pa + off), vb = v128.load(x0 + pb + off);
        const vc = v128.load(x1 + pa + off), vd = v128.load(x1 + pb + off);
        // selB/selC/selD: that element replaced the running max (strictly greater).
        const selB = f32x4.gt(vb, va);
        let vmax = v128.bitselect(vb, va, selB);
        const selC = f32x4.gt(vc, vmax);
        vmax = v128.bitselect(vc, vmax, selC);
        const selD = f32x4.gt(vd, vmax);
        vmax = v128.bitselect(vd, vmax, selD);
        // The winner is the last element that replaced the max.
        const winD = selD;
        const winC = v128.andnot(selC, selD);
        const winB = v128.andnot(selB, v128.or(selC, selD));
        const winA = v128.not(v128.or(selB, v128.or(selC, selD)));
        let vg = v128.load(g + off);
        if (relu) vg = v128.and(vg, f32x4.gt(vmax, zero));
        v128.store(dx0 + pa + off, v128.and(vg, winA));
        v128.store(dx0 + pb + off, v128.and(vg, winB));
        v128.store(dx1 + pa + off, v128.and(vg, winC));
        v128.store(dx1 + pb + off, v128.and(vg, winD));
      }
      for (; c < C; c++) {
        const off = <usize>c << 2;
        const ea = load<f32>(x0 + pa + off), eb = load<f32>(x0 + pb + off);
        const ec = load<f32>(x1 + pa + off), ed = load<f32>(x1 + pb + off);
        let best = ea, k = 0;
        if (eb > best) { best = eb; k = 1; }
        if (ec > best) { best = ec; k = 2; }
        if (ed > best) { best = ed; k = 3; }
        let vg = load<f32>(g + off);
        if (relu && !(best > 0)) vg = 0;
        store<f32>(dx0 + pa + off, k == 0 ? vg : 0);
        store<f32>(dx0 + pb + off, k == 1 ? vg : 0);
        store<f32>(dx1 + pa + off, k == 2 ? vg : 0);
        store<f32>(dx1 + pb + off, k == 3 ? vg : 0);
      }
    }
    // A dropped odd column gets no gradient.
    if (W & 1) {
      zeroF32(dx0 + <usize>(W - 1) * pixelBytes, C);
      zeroF32(dx1 + <usize>(W - 1) * pixelBytes, C);
    }
    // A dropped odd row gets no gradient; the image's last output row owns it.
    if ((H & 1) && oh == OH - 1) zeroF32(dx1 + rowBytes, W * C);
  }
}
