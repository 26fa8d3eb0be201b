/* float32 add / sub / mul / div / max / min / squared difference with broadcasting and a fused clamp. */
#include "mcf_arith.h"
#include "mcf_broadcast.h"

static inline float apply(const mcf_binary_f32_args *a, float x, float y)
{
    float r;
    switch (a->op) {
    case MCF_ADD:
        r = x + y;
        break;
    case MCF_SUB:
        r = x - y;
        break;
    case MCF_MUL:
        r = x * y;
        break;
    case MCF_DIV:
        r = x / y;
        break;
    case MCF_MAXIMUM:
        r = x > y ? x : y;
        break;
    case MCF_MINIMUM:
        r = x < y ? x : y;
        break;
    default: /* MCF_SQDIFF */
        r = (x - y) * (x - y);
        break;
    }
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
