/* int8 depthwise convolution (any kernel, stride, dilation, depth multiplier) with int4 weights on
 * the DSP extension: the int8 DSP depthwise kernel over taps unpacked at run time (mcf_subbyte_dsp_dw.h). */
#include "mcf_subbyte_dsp_dw.h"

void mcf_depthwise_conv2d_s8_w4_dsp_gen(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_depthwise_sub_dsp_gen(a, in, out, 4, 0);
}
