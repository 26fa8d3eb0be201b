/* float32 PReLU with a broadcast slope. */
#include "mcf_broadcast.h"

void mcf_prelu_f32(const mcf_prelu_f32_args *a, const float *in, const float *slope, float *out)
{
    mcf_bc_iter it;
    mcf_bc_begin(&it);
    for (int32_t i = 0; i < a->bc.size; ++i) {
        const float x = in[it.a_off];
        out[i] = x >= 0.0f ? x : x * slope[it.b_off];
        mcf_bc_next(&a->bc, &it);
    }
}
