// Rotation-translation of NHWC images by per-example (θ radians, tx, ty pixels), bilinear
// sampling with zero fill (assembly/bilinear.ts; see src/kernels/spatial.ts for the geometry).
//   x (N, H, W, C), params (N, 3) → y (N, H, W, C)
// The vjp is differentiable in both: ∂/∂x (the adjoint resampling) and ∂/∂params (the first-order
// RT attack), each computed only when needed.
// NOTE: zero padding outside the image; the gradient wrt params is that of the bilinear
// interpolant, piecewise smooth (kinks where a sample crosses a pixel boundary).
import { spatialBackwardInput, spatialBackwardParams, spatialForward } from '../kernels/spatial.ts';
import { Tensor } from '../tensor.ts';
import { defineOp } from './registry.ts';

function dims(x: Tensor, params: Tensor): { batch: number; h: number; w: number; c: number; params: Tensor['buf'] } {
  if (x.rank !== 4) throw new RangeError(`spatialTransform: x must be NHWC (4-D), got shape [${x.shape}]`);
  const [batch, h, w, c] = x.shape;
  if (params.rank !== 2 || params.shape[0] !== batch || params.shape[1] !== 3) {
    throw new RangeError(`spatialTransform: params must have shape [${batch}, 3] (θ, tx, ty per example), got [${params.shape}]`);
  }
  return { batch, h, w, c, params: params.buf };
}

const spatialOp = defineOp({
  name: 'spatialTransform',
  inputs: ['x', 'params'],
  save: ['x', 'params'],
  forward({ engine }, [x, params]) {
    const d = dims(x!, params!);
    const v = params!.view();
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new RangeError(`spatialTransform: params[${i}] must be finite, got ${v[i]}`);
    const y = Tensor.empty(engine, x!.shape);
    spatialForward(engine, { ...d, x: x!.buf, y: y.buf });
    return y;
  },
  vjp({ engine, saved }, dy, needs) {
    const d = dims(saved.x, saved.params);
    let dx: Tensor | null = null, dp: Tensor | null = null;
    if (needs[0]) {
      dx = Tensor.empty(engine, saved.x.shape);
      spatialBackwardInput(engine, { ...d, gy: dy.buf, gx: dx.buf });
    }
    if (needs[1]) {
      dp = Tensor.empty(engine, saved.params.shape);
      spatialBackwardParams(engine, { ...d, x: saved.x.buf, gy: dy.buf, gradParams: dp.buf });
    }
    return [dx, dp];
  },
});

/** Rotates by θ (radians) and translates by (tx, ty) pixels each image of x; params (N, 3). */
export const spatialTransform = (x: Tensor, params: Tensor): Tensor => spatialOp([x, params], {});
