/* int8 fully connected layer with ternary weights, tuned portable C (mcf_subbyte_ref.h). */
#include "mcf_subbyte_ref.h"

void mcf_fully_connected_s8_w2_fast(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_fully_connected_sub_fast(a, in, out, 2);
}
