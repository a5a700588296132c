// 2-D convolution over the conv2d kernels (assembly/conv2d.ts, assembly/winograd.ts).
//   x (N, H, W, Cin) NHWC, w (KH, KW, Cin, Cout) HWIO, b (Cout) → y (N, OH, OW, Cout)
//   attrs.relu: y = ReLU(conv + b) in the same kernel call (no separate pass over y); the vjp
//   masks dy with y > 0 first.
// The vjp calls bwd_input only when x needs a gradient and bwd_filter only when w does.
import { biasBackward } from '../kernels/activation.ts';
import { maskByRelu } from './elementwise.ts';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dGeometry, type Conv2dGeometry, type Padding } from '../kernels/conv2d.ts';
import { Tensor } from '../tensor.ts';
import { defineOp } from './registry.ts';

export interface Conv2dAttrs {
  stride?: number;
  padding?: Padding;
  /** Fuse a ReLU after the bias. */
  relu?: boolean;
}

const conv2dOp = defineOp<Conv2dAttrs>({
  name: 'conv2d',
  inputs: ['x', 'w', 'b?'],
  save: ['x', 'w', 'out'],
  forward({ engine, extra }, [x, w, b], attrs) {
    if (x!.rank !== 4) throw new RangeError(`conv2d: x must be NHWC (4-D), got shape [${x!.shape}]`);
    if (w!.rank !== 4) throw new RangeError(`conv2d: w must be HWIO (4-D), got shape [${w!.shape}]`);
    const [batch, h, wd, cin] = x!.shape, [kh, kw, cin2, cout] = w!.shape;
    if (cin !== cin2) throw new RangeError(`conv2d: x has ${cin} channels, w [${w!.shape}] expects ${cin2}`);
    if (b && (b.rank !== 1 || b.shape[0] !== cout)) throw new RangeError(`conv2d: b must have shape [${cout}], got [${b.shape}]`);
    const geom = conv2dGeometry({ batch, h, w: wd, cin, cout, kh, kw, stride: attrs.stride ?? 1, padding: attrs.padding ?? 'valid' });
    extra.geom = geom;
    const y = Tensor.empty(engine, [batch, geom.oh, geom.ow, cout]);
    conv2dForward(engine, { x: x!.buf, w: w!.buf, bias: b ? b.buf : null, y: y.buf, geom, relu: !!attrs.relu });
    return y;
  },
  vjp({ engine, saved, extra, attrs }, dy, needs) {
    const geom = extra.geom as Conv2dGeometry;
    if (attrs.relu) dy = maskByRelu(dy, saved.out);
    let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
    if (needs[0]) {
      dx = Tensor.empty(engine, saved.x.shape);
      conv2dBackwardInput(engine, { dy: dy.buf, w: saved.w.buf, dx: dx.buf, geom });
    }
    if (needs[1]) {
      dw = Tensor.empty(engine, saved.w.shape);
      conv2dBackwardFilter(engine, { x: saved.x.buf, dy: dy.buf, dw: dw.buf, geom });
    }
    if (needs[2]) {
      db = Tensor.empty(engine, [geom.cout]);
      biasBackward(engine, { dy: dy.buf, db: db.buf, rows: geom.batch * geom.oh * geom.ow, cols: geom.cout });
    }
    return [dx, dw, db];
  },
});

export const conv2d = (x: Tensor, w: Tensor, b: Tensor | null = null, attrs: Conv2dAttrs = {}): Tensor => conv2dOp([x, w, b], attrs);
