/* int8 fully connected layer with int4 weights on Cortex-M55 Helium (mcf_subbyte_mve_fc.h). */
#include "mcf_subbyte_mve_fc.h"

void mcf_fully_connected_s8_w4_mve(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_fully_connected_sub_mve(a, in, out, 4);
}
