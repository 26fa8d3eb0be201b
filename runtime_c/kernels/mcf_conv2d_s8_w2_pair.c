/* int8 convolution (groups 1) with ternary weights, two MACs per multiply (mcf_subbyte_pair.h). */
#include "mcf_subbyte_pair.h"

void mcf_conv2d_s8_w2_pair(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_conv2d_sub_pair(a, in, out, 2);
}
