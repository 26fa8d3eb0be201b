/* int8 depthwise convolution (depth multiplier > 1) with ternary weights on Cortex-M55 Helium: the int8
 * general Helium depthwise kernel over weights unpacked at run time (mcf_subbyte_mve_dw.h). */
#include "mcf_subbyte_mve_dw.h"

void mcf_depthwise_conv2d_s8_w2_mve_gen(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_depthwise_sub_mve_gen(a, in, out, 2);
}
