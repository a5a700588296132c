import { afterEach, describe, expect, it, vi } from 'vitest';
import { backward } from '../../src/autograd.ts';
import { conv2d, sum } from '../../src/ops/index.ts';
import { Tensor } from '../../src/tensor.ts';
import { loadEngine } from '../../src/wasm/load.ts';
import { engineFor } from '../_helpers/engine.ts';
import { checkOp } from '../_helpers/gradcheck.ts';
import { rng, uniform } from '../_helpers/rng.ts';

describe('conv2d', () => {
  it('gradient x=[2,3,3,1] w=[2,2,1,1] s=1 p=valid', () => checkOp('conv2d', [[2, 3, 3, 1], [2, 2, 1, 1], null]));
  it('gradient x=[2,6,5,3] w=[3,3,3,4] b=[4] s=1 p=same', () => checkOp('conv2d', [[2, 6, 5, 3], [3, 3, 3, 4], [4]], { attrs: { padding: 'same' }, kernels: ['f32_conv2d_fwd', 'f32_conv2d_bwd_input', 'f32_conv2d_bwd_filter'] }));
  it('gradient x=[1,7,7,2] w=[5,5,2,5] b=[5] s=2 p=same', () => checkOp('conv2d', [[1, 7, 7, 2], [5, 5, 2, 5], [5]], { attrs: { padding: 'same', stride: 2 } }));
  it('gradient with fused ReLU x=[2,6,5,3] w=[3,3,3,4] b=[4] s=1 p=same', () => checkOp('conv2d', [[2, 6, 5, 3], [3, 3, 3, 4], [4]], { attrs: { padding: 'same', relu: true } }));
  // 5×5 stride 1 with 8 channels: 'auto' picks Winograd for all three passes (asserted, not assumed).
  it('gradient with fused ReLU, Winograd x=[2,6,6,8] w=[5,5,8,8] b=[8] s=1 p=same', async () => {
    const engine = await engineFor('simd');
    expect(engine.convAlgorithm, 'MULTIROBUST_CONV must not be set for this case').toBe('auto');
    await checkOp('conv2d', [[2, 6, 6, 8], [5, 5, 8, 8], [8]], { attrs: { padding: 'same', relu: true }, engine, kernels: ['f32_winograd_fwd', 'f32_winograd_bwd_filter'] });
    expect(engine.calls.has('f32_conv2d_fwd'), 'the implicit GEMM did not run').toBe(false);
  });
  it('gradient x=[3,8,8,1] w=[5,5,1,32] b=[32] s=1 p=same (conv1)', () => checkOp('conv2d', [[3, 8, 8, 1], [5, 5, 1, 32], [32]], { attrs: { padding: 'same' } }));
});

describe('MULTIROBUST_CONV picks the convolution algorithm of an engine', () => {
  afterEach(() => vi.unstubAllEnvs());

  /** The kernels one conv2d forward and backward (x, w and b need gradients) runs. */
  async function kernelsRun(): Promise<string[]> {
    const engine = await loadEngine({ threads: 1 });
    try {
      return engine.arena.scope(() => {
        const r = rng(5);
        const x = Tensor.from(engine, uniform(r, 2 * 6 * 6 * 8), [2, 6, 6, 8], { requiresGrad: true });
        const w = Tensor.from(engine, uniform(r, 5 * 5 * 8 * 8), [5, 5, 8, 8], { requiresGrad: true });
        engine.calls.clear();
        backward(sum(conv2d(x, w, null, { padding: 'same' })));
        return [...engine.calls.keys()].filter((k) => /conv2d|winograd/.test(k)).sort();
      });
    } finally {
      await engine.close();
    }
  }

  it.each([
    ['gemm', ['f32_conv2d_bwd_filter', 'f32_conv2d_bwd_input', 'f32_conv2d_fwd']],
    ['winograd', ['f32_winograd_bwd_filter', 'f32_winograd_filter', 'f32_winograd_filter_bwd', 'f32_winograd_fwd']],
    ['auto', ['f32_winograd_bwd_filter', 'f32_winograd_filter', 'f32_winograd_filter_bwd', 'f32_winograd_fwd']],
  ])('MULTIROBUST_CONV=%s on a 5×5, 8-channel layer', async (algo, kernels) => {
    vi.stubEnv('MULTIROBUST_CONV', algo);
    expect(await kernelsRun()).toEqual(kernels);
  });

  it('an unknown value is an error naming the variable', async () => {
    vi.stubEnv('MULTIROBUST_CONV', 'fft');
    await expect(loadEngine({ threads: 1 })).rejects.toThrow(/convAlgorithm must be 'auto', 'gemm' or 'winograd' \(MULTIROBUST_CONV\), got 'fft'/);
  });
});
