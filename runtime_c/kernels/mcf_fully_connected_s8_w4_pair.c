/* int8 fully connected layer with int4 weights, two MACs per multiply, no scratch (mcf_subbyte_pair.h). */
#include "mcf_subbyte_pair.h"

void mcf_fully_connected_s8_w4_pair(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_fully_connected_sub_pair(a, in, out, 4);
}
