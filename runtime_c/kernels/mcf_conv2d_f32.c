/* float32 2-D convolution, any groups (depthwise included), reference version. The loop is
 * mcf_conv_ref.inc's. */
#define MCF_CONV_FN mcf_conv2d_f32
#define MCF_CONV_F32
#include "mcf_conv_ref.inc"
