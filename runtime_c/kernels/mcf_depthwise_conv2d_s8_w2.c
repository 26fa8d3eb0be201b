/* int8 depthwise convolution with ternary, four per byte weights, reference version: the grouped convolution with
 * one input channel per group (weights [out_c][k_h][k_w][1], mcf_subbyte_ref.h). */
#include "mcf_subbyte_ref.h"

void mcf_depthwise_conv2d_s8_w2(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_conv2d_sub(a, in, out, 2);
}
