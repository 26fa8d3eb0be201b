/* Any int8 -> int8 function of one value, as a 256-entry table filled at compile time. */
#include "mcf_kernels.h"

void mcf_lut_s8(const mcf_lut_s8_args *a, const int8_t *in, int8_t *out)
{
    for (int32_t i = 0; i < a->size; ++i) {
        out[i] = a->table[(int32_t)in[i] + 128];
    }
}
