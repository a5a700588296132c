// The only asc entry point: one export line per kernel family.
// Kernel exports are named <dtype>_<family>_<pass>[_<variant>]__<isa>; every __simd kernel has a
// __scalar twin. A kernel may have a companion `<name>_scratch(params): i32` giving the bytes of
// per-thread scratch it needs. See docs/engine.md "Kernel conventions".

/** First byte after the module's static data: the TS arena starts above it. */
export function heap_base(): usize {
  return __heap_base;
}

export { f32_gemm__scalar, f32_gemm__simd, f32_gemm_scratch } from "./gemm";
export {
  f32_conv2d_fwd__scalar, f32_conv2d_fwd__simd, f32_conv2d_fwd_scratch,
  f32_conv2d_bwd_input__scalar, f32_conv2d_bwd_input__simd, f32_conv2d_bwd_input_scratch,
  f32_conv2d_bwd_filter__scalar, f32_conv2d_bwd_filter__simd, f32_conv2d_bwd_filter_scratch,
} from "./conv2d";
export {
  f32_bias_add_fwd__scalar, f32_bias_add_fwd__simd, f32_bias_add_bwd__scalar, f32_bias_add_bwd__simd,
  f32_relu_fwd__scalar, f32_relu_fwd__simd, f32_relu_bwd__scalar, f32_relu_bwd__simd,
  f32_leaky_relu_fwd__scalar, f32_leaky_relu_fwd__simd, f32_leaky_relu_bwd__scalar, f32_leaky_relu_bwd__simd,
} from "./activation";
export { f32_maxpool2d_fwd__scalar, f32_maxpool2d_fwd__simd, f32_maxpool2d_bwd__scalar, f32_maxpool2d_bwd__simd } from "./pool";
export {
  f32_avgpool2d_fwd__scalar, f32_avgpool2d_fwd__simd, f32_avgpool2d_bwd__scalar, f32_avgpool2d_bwd__simd,
  f32_maxpool_fwd__scalar, f32_maxpool_fwd__simd, f32_maxpool_bwd__scalar, f32_maxpool_bwd__simd,
} from "./avgpool";
export {
  f32_softmax_xent_fwd__scalar, f32_softmax_xent_fwd__simd, f32_softmax_xent_bwd__scalar, f32_softmax_xent_bwd__simd,
  f32_margin_loss_fwd__scalar, f32_margin_loss_fwd__simd, f32_margin_loss_bwd__scalar, f32_margin_loss_bwd__simd,
} from "./loss";
export { f32_adam_update__scalar, f32_adam_update__simd, f32_sgd_update__scalar, f32_sgd_update__simd } from "./optim";
export {
  f32_proj_linf__scalar, f32_proj_linf__simd, f32_proj_l2__scalar, f32_proj_l2__simd,
  f32_proj_l1__scalar, f32_proj_l1__simd, f32_proj_l1_scratch,
  f32_proj_l1_box__scalar, f32_proj_l1_box__simd, f32_proj_l1_box_scratch,
} from "./proj";
export {
  f32_norms__scalar, f32_norms__simd, f32_sign__scalar, f32_sign__simd,
  f32_slide_dir__scalar, f32_slide_dir__simd, f32_slide_dir_scratch,
} from "./norms";
export {
  f32_rand_linf__scalar, f32_rand_linf__simd, f32_rand_l2__scalar, f32_rand_l2__simd, f32_rand_l1__scalar, f32_rand_l1__simd,
} from "./random";
export {
  f32_bilinear_fwd__scalar, f32_bilinear_fwd__simd, f32_bilinear_fwd_scratch,
  f32_bilinear_bwd_input__scalar, f32_bilinear_bwd_input__simd, f32_bilinear_bwd_input_scratch,
  f32_bilinear_bwd_params__scalar, f32_bilinear_bwd_params__simd, f32_bilinear_bwd_params_scratch,
} from "./bilinear";
export {
  f32_winograd_filter__scalar, f32_winograd_filter__simd, f32_winograd_filter_scratch,
  f32_winograd_filter_bwd__scalar, f32_winograd_filter_bwd__simd, f32_winograd_filter_bwd_scratch,
  f32_winograd_fwd__scalar, f32_winograd_fwd__simd, f32_winograd_fwd_scratch,
  f32_winograd_bwd_filter__scalar, f32_winograd_bwd_filter__simd, f32_winograd_bwd_filter_scratch,
} from "./winograd";
