/* int8 fully connected layer of several rows with int4 weights on the DSP extension, for layers
 * with channels whose requantization shifts left (double rounding): the 1x1 convolution's _lsh block
 * kernel (mcf_subbyte_dsp.h, mcf_conv2d_s8_dsp_lsh.c). */
#include "mcf_subbyte_dsp.h"

void mcf_fully_connected_s8_w4_dsp_lsh(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_fully_connected_sub_dsp(a, in, out, 4, 1);
}
