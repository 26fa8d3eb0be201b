/* int8 fully connected layer with int4, two per byte weights, reference version (mcf_subbyte_ref.h). */
#include "mcf_subbyte_ref.h"

void mcf_fully_connected_s8_w4(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_fully_connected_sub(a, in, out, 4);
}
