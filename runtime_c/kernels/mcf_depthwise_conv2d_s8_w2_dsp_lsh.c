/* int8 depthwise 3x3 convolution with ternary weights on the DSP extension, for layers with channels
 * whose requantization shifts left (mcf_subbyte_dsp_dw.h). */
#include "mcf_subbyte_dsp_dw.h"

void mcf_depthwise_conv2d_s8_w2_dsp_lsh(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_depthwise_sub_dsp(a, in, out, 2, 1);
}
