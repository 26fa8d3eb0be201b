/* 16x8 depthwise convolution (groups == input channels, depth multiplier M = out_c / in_c),
 * reference version: output channel oc reads input channel oc / M; int64 accumulation and the
 * 64-bit requantization, as TFLite's DepthwiseConvPerChannel for int16. The loop is
 * mcf_conv_ref.inc's. */
#define MCF_CONV_FN mcf_depthwise_conv2d_s16
#define MCF_CONV_S16
#define MCF_CONV_DEPTHWISE
#include "mcf_conv_ref.inc"
