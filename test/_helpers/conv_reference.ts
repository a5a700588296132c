// float64 reference convolution (NHWC x, HWIO w), written from the definition.
import type { Conv2dGeometry } from '../../src/kernels/conv2d.ts';

export function conv2dRef(g: Conv2dGeometry, x: ArrayLike<number>, w: ArrayLike<number>, bias?: ArrayLike<number> | null, relu = false): Float64Array {
  const y = new Float64Array(g.ySize);
  for (let n = 0; n < g.batch; n++) for (let oh = 0; oh < g.oh; oh++) for (let ow = 0; ow < g.ow; ow++) for (let co = 0; co < g.cout; co++) {
    let s = bias ? bias[co] : 0;
    for (let kh = 0; kh < g.kh; kh++) for (let kw = 0; kw < g.kw; kw++) {
      const ih = oh * g.stride + kh - g.padTop, iw = ow * g.stride + kw - g.padLeft;
      if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
      for (let ci = 0; ci < g.cin; ci++) s += x[((n * g.h + ih) * g.w + iw) * g.cin + ci] * w[((kh * g.kw + kw) * g.cin + ci) * g.cout + co];
    }
    y[((n * g.oh + oh) * g.ow + ow) * g.cout + co] = relu ? Math.max(s, 0) : s;
  }
  return y;
}

/** dx = Σ over outputs of dy · w, scattered back along the forward gather. */
export function conv2dBackwardInputRef(g: Conv2dGeometry, dy: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(g.xSize);
  for (let n = 0; n < g.batch; n++) for (let oh = 0; oh < g.oh; oh++) for (let ow = 0; ow < g.ow; ow++) for (let co = 0; co < g.cout; co++) {
    const d = dy[((n * g.oh + oh) * g.ow + ow) * g.cout + co];
    for (let kh = 0; kh < g.kh; kh++) for (let kw = 0; kw < g.kw; kw++) {
      const ih = oh * g.stride + kh - g.padTop, iw = ow * g.stride + kw - g.padLeft;
      if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
      for (let ci = 0; ci < g.cin; ci++) dx[((n * g.h + ih) * g.w + iw) * g.cin + ci] += d * w[((kh * g.kw + kw) * g.cin + ci) * g.cout + co];
    }
  }
  return dx;
}

export function conv2dBackwardFilterRef(g: Conv2dGeometry, x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dw = new Float64Array(g.wSize);
  for (let n = 0; n < g.batch; n++) for (let oh = 0; oh < g.oh; oh++) for (let ow = 0; ow < g.ow; ow++) for (let co = 0; co < g.cout; co++) {
    const d = dy[((n * g.oh + oh) * g.ow + ow) * g.cout + co];
    for (let kh = 0; kh < g.kh; kh++) for (let kw = 0; kw < g.kw; kw++) {
      const ih = oh * g.stride + kh - g.padTop, iw = ow * g.stride + kw - g.padLeft;
      if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
      for (let ci = 0; ci < g.cin; ci++) dw[((kh * g.kw + kw) * g.cin + ci) * g.cout + co] += d * x[((n * g.h + ih) * g.w + iw) * g.cin + ci];
    }
  }
  return dw;
}
