/* int8 depthwise convolution (groups == in_c, out_c = in_c * multiplier), reference version.
 * The loop is mcf_conv_ref.inc's. */
#define MCF_CONV_FN mcf_depthwise_conv2d_s8
#define MCF_CONV_S8
#define MCF_CONV_DEPTHWISE
#include "mcf_conv_ref.inc"
