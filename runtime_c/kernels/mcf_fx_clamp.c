/* A relu / clip that could not be fused into its producer: a clamp in the input's own grid. */
#include "mcf_fixed.h"

void mcf_fx_clamp(const mcf_fx_clamp_args *a, const int8_t *in, int8_t *out)
{
    for (int32_t i = 0; i < a->size; ++i) {
        const int32_t v = in[i];
        out[i] = (int8_t)(v < a->act_lo ? a->act_lo : (v > a->act_hi ? a->act_hi : v));
    }
}
