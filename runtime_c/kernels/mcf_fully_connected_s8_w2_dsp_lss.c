/* int8 fully connected layer of several rows with ternary weights on the DSP extension, for layers
 * with channels whose requantization shifts left, under single rounding (MCF_SINGLE_ROUNDING): the
 * plain block kernel with those channels' shift folded into their weights (mcf_subbyte_dsp.h,
 * mcf_sub_e_single). */
#include "mcf_subbyte_dsp.h"

void mcf_fully_connected_s8_w2_dsp_lss(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_fully_connected_sub_dsp(a, in, out, 2, 2);
}
