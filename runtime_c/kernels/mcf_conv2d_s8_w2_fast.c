/* int8 convolution (groups 1) with ternary weights, tuned portable C (mcf_subbyte_ref.h). */
#include "mcf_subbyte_ref.h"

void mcf_conv2d_s8_w2_fast(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_conv2d_sub_fast(a, in, out, 2);
}
