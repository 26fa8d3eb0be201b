/* int8 convolution with ternary weights on the DSP extension, for layers with channels whose
 * requantization shifts left (mcf_subbyte_dsp.h, mcf_conv2d_s8_dsp_lsh.c). */
#include "mcf_subbyte_dsp.h"

void mcf_conv2d_s8_w2_dsp_lsh(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_conv2d_sub_dsp(a, in, out, 2, 1);
}
