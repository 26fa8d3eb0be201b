/* int8 convolution (any groups) with ternary, four per byte weights, reference version (mcf_subbyte_ref.h). */
#include "mcf_subbyte_ref.h"

void mcf_conv2d_s8_w2(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_conv2d_sub(a, in, out, 2);
}
