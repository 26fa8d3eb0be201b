/* int8 depthwise convolution with ternary weights on Cortex-M55 Helium (mcf_subbyte_mve_dw.h). */
#include "mcf_subbyte_mve_dw.h"

void mcf_depthwise_conv2d_s8_w2_mve(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_depthwise_sub_mve(a, in, out, 2);
}
