// Real shapes from the paper's MNIST CNN at batch 100 (design.md §3.9): every bench uses these.
import type { Conv2dShape } from '../src/kernels/conv2d.ts';

export const BATCH = 100;

export const CONV1: Conv2dShape = { batch: BATCH, h: 28, w: 28, cin: 1, cout: 32, kh: 5, kw: 5, stride: 1, padding: 'same' };
export const CONV2: Conv2dShape = { batch: BATCH, h: 14, w: 14, cin: 32, cout: 64, kh: 5, kw: 5, stride: 1, padding: 'same' };
/** Dense layers as GEMM (M = batch, K = in, N = out). */
export const FC1 = { M: BATCH, K: 3136, N: 1024 };
export const FC2 = { M: BATCH, K: 1024, N: 10 };
export const GEMM_SQUARE = { M: 512, K: 512, N: 512 };
