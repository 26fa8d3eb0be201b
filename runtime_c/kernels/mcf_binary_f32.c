/* float32 add / sub / mul with broadcasting and a fused clamp. */
#include "mcf_arith.h"
#include "mcf_broadcast.h"

static inline float apply(const mcf_binary_f32_args *a, float x, float y)
{
    float r = a->op == MCF_ADD ? x + y : a->op == MCF_SUB ? x - y : x * y;
    return MCF_CLAMP(r, a->act_min, a->act_max);
}

void mcf_binary_f32(const mcf_binary_f32_args *a, const float *in1, const float *in2, float *out)
{
    if (a->bc.same_shape) {
        for (int32_t i = 0; i < a->bc.size; ++i) {
            out[i] = apply(a, in1[i], in2[i]);
        }
        return;
    }
    mcf_bc_iter it;
    mcf_bc_begin(&it);
    for (int32_t i = 0; i < a->bc.size; ++i) {
        out[i] = apply(a, in1[it.a_off], in2[it.b_off]);
        mcf_bc_next(&a->bc, &it);
    }
}
