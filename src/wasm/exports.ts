// The typed kernel surface of the module: every kernel base name, one line each (each exists as
// `<name>__simd` and `<name>__scalar`, see assembly/index.ts). test/wasm/load.test.ts checks this
// list against WebAssembly.Module.exports of the built module, both ways.
export const KERNEL_NAMES = [
  'f32_gemm',
  'f32_conv2d_fwd',
  'f32_conv2d_bwd_input',
  'f32_conv2d_bwd_filter',
  'f32_winograd_filter',
  'f32_winograd_filter_bwd',
  'f32_winograd_fwd',
  'f32_winograd_bwd_filter',
  'f32_bias_add_fwd',
  'f32_bias_add_bwd',
  'f32_relu_fwd',
  'f32_relu_bwd',
  'f32_leaky_relu_fwd',
  'f32_leaky_relu_bwd',
  'f32_maxpool2d_fwd',
  'f32_maxpool2d_bwd',
  'f32_avgpool2d_fwd',
  'f32_avgpool2d_bwd',
  'f32_maxpool_fwd',
  'f32_maxpool_bwd',
  'f32_softmax_xent_fwd',
  'f32_softmax_xent_bwd',
  'f32_margin_loss_fwd',
  'f32_margin_loss_bwd',
  'f32_adam_update',
  'f32_sgd_update',
  'f32_proj_linf',
  'f32_proj_l2',
  'f32_proj_l1',
  'f32_proj_l1_box',
  'f32_norms',
  'f32_sign',
  'f32_slide_dir',
  'f32_rand_linf',
  'f32_rand_l2',
  'f32_rand_l1',
  'f32_bilinear_fwd',
  'f32_bilinear_bwd_input',
  'f32_bilinear_bwd_params',
] as const;

export type KernelName = (typeof KERNEL_NAMES)[number];

/** Kernels whose [begin, end) parts are summed (5-argument form with `partial`). */
export const REDUCTION_KERNELS: readonly KernelName[] = ['f32_conv2d_bwd_filter', 'f32_winograd_bwd_filter', 'f32_bias_add_bwd'];
