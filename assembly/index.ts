// The only asc entry point: one export line per kernel family.
// Kernel exports are named <dtype>_<family>_<pass>[_<variant>]__<isa>; every __simd kernel has a
// __scalar twin. A kernel may have a companion `<name>_scratch(params): i32` giving the bytes of
// per-thread scratch it needs. See README "Kernel conventions".

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
