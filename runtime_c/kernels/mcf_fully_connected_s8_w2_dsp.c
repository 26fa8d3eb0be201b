/* int8 fully connected layer with ternary weights on the DSP extension (mcf_subbyte_dsp.h). */
#include "mcf_subbyte_dsp.h"

void mcf_fully_connected_s8_w2_dsp(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_fully_connected_sub_dsp(a, in, out, 2, 0);
}
