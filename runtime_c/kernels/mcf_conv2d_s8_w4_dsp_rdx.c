/* int8 convolution (groups 1) with int4 weights on the DSP extension, radix form for few-pixel
 * layers over one block (mcf_subbyte_dsp_rdx.h). */
#include "mcf_subbyte_dsp_rdx.h"

void mcf_conv2d_s8_w4_dsp_rdx(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_conv2d_sub_dsp_rdx(a, in, out, 4);
}
