/* int8 depthwise convolution with ternary weights on cores without SIMD: the taps unpacked into the
 * scratch for the int8 tuned kernel mcf_depthwise_conv2d_s8_fast (mcf_subbyte_fastu_dw.h). */
#include "mcf_subbyte_fastu_dw.h"

void mcf_depthwise_conv2d_s8_w2_fastu(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_depthwise_sub_fastu(a, in, out, 2);
}
