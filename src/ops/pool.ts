// Max-pool 2×2, stride 2 over the pool kernels (assembly/pool.ts); NHWC.
// attrs.relu: ReLU after the pool, in the same kernel; equal to ReLU then pool in values and
// gradients, so conv → ReLU → pool runs as conv → pool+ReLU: one pass over the pooled map
// (4× smaller) instead of a forward and a backward pass over the full one.
// NOTE: floor windows (an odd last row/column is dropped); ties send the gradient to the first
// max in the order (0,0), (0,1), (1,0), (1,1).
import { avgPool2d as avgPool2dKernel, avgPool2dBackward, avgPoolShape, maxPool as maxPoolKernel, maxPoolBackward } from '../kernels/avgpool.ts';
import { maxPool2x2, maxPool2x2Backward } from '../kernels/pool.ts';
import { Tensor } from '../tensor.ts';
import { defineOp } from './registry.ts';

export interface MaxPool2dAttrs {
  relu?: boolean;
}

const maxPool2dOp = defineOp<MaxPool2dAttrs>({
  name: 'maxPool2d',
  inputs: ['x'],
  save: ['x'],
  forward({ engine }, [x], attrs) {
    if (x!.rank !== 4) throw new RangeError(`maxPool2d: x must be NHWC (4-D), got shape [${x!.shape}]`);
    const [batch, h, w, c] = x!.shape;
    const y = Tensor.empty(engine, [batch, h >> 1, w >> 1, c]);
    maxPool2x2(engine, { x: x!.buf, y: y.buf, batch, h, w, c, relu: !!attrs.relu });
    return y;
  },
  vjp({ engine, saved, attrs }, dy) {
    const [batch, h, w, c] = saved.x.shape;
    const dx = Tensor.empty(engine, saved.x.shape);
    maxPool2x2Backward(engine, { x: saved.x.buf, dy: dy.buf, dx: dx.buf, batch, h, w, c, relu: !!attrs.relu });
    return [dx];
  },
});

export const maxPool2d = (x: Tensor, attrs: MaxPool2dAttrs = {}): Tensor => maxPool2dOp([x], attrs);

// Average pooling over the avgpool kernels (assembly/avgpool.ts); NHWC. attrs: window (kh, kw),
// strides (sh, sw), symmetric zero padding (ph, pw), includePad (divide by kh·kw everywhere, ONNX
// count_include_pad = 1; otherwise by the taps inside the image). Global average pooling: the
// window is the whole image. Linear in x: the vjp is the adjoint kernel.
export interface AvgPool2dAttrs {
  kh: number;
  kw: number;
  sh?: number;
  sw?: number;
  ph?: number;
  pw?: number;
  includePad?: boolean;
}

const geometry = ({ shape }: { shape: readonly number[] }, a: AvgPool2dAttrs) => {
  const [batch, h, w, c] = shape;
  return { batch, h, w, c, kh: a.kh, kw: a.kw, sh: a.sh ?? 1, sw: a.sw ?? 1, ph: a.ph ?? 0, pw: a.pw ?? 0, includePad: !!a.includePad };
};

const avgPool2dOp = defineOp<AvgPool2dAttrs>({
  name: 'avgPool2d',
  inputs: ['x'],
  save: [],
  forward({ engine, extra }, [x], attrs) {
    if (x!.rank !== 4) throw new RangeError(`avgPool2d: x must be NHWC (4-D), got shape [${x!.shape}]`);
    const g = geometry(x!, attrs);
    const s = avgPoolShape('avgPool2d', g);
    extra.inShape = x!.shape;
    const y = Tensor.empty(engine, [s.batch, s.oh, s.ow, s.c]);
    avgPool2dKernel(engine, { ...g, x: x!.buf, y: y.buf });
    return y;
  },
  vjp({ engine, extra, attrs }, dy) {
    const shape = extra.inShape as number[];
    const dx = Tensor.empty(engine, shape);
    avgPool2dBackward(engine, { ...geometry({ shape }, attrs), dy: dy.buf, dx: dx.buf });
    return [dx];
  },
});

export const avgPool2d = (x: Tensor, attrs: AvgPool2dAttrs): Tensor => avgPool2dOp([x], attrs);
/** The mean over H × W per channel: (B, H, W, C) → (B, 1, 1, C). */
export const globalAvgPool = (x: Tensor): Tensor => avgPool2dOp([x], { kh: x.shape[1], kw: x.shape[2] });

// General max pooling (assembly/avgpool.ts f32_maxpool_*): any window, strides and symmetric
// padding (never selected); ties to the first max in row-major window order. The 2×2 stride-2
// case is maxPool2d's kernel.
const maxPoolOp = defineOp<AvgPool2dAttrs>({
  name: 'maxPool',
  inputs: ['x'],
  save: ['x'],
  forward({ engine }, [x], attrs) {
    if (x!.rank !== 4) throw new RangeError(`maxPool: x must be NHWC (4-D), got shape [${x!.shape}]`);
    const g = geometry(x!, attrs);
    const s = avgPoolShape('maxPool', g);
    const y = Tensor.empty(engine, [s.batch, s.oh, s.ow, s.c]);
    maxPoolKernel(engine, { ...g, x: x!.buf, y: y.buf });
    return y;
  },
  vjp({ engine, saved, attrs }, dy) {
    const dx = Tensor.empty(engine, saved.x.shape);
    maxPoolBackward(engine, { ...geometry(saved.x, attrs), x: saved.x.buf, dy: dy.buf, dx: dx.buf });
    return [dx];
  },
});

export const maxPool = (x: Tensor, attrs: AvgPool2dAttrs): Tensor => maxPoolOp([x], attrs);
