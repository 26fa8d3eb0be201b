/* int8 PReLU with a broadcast slope (TFLite Micro's arithmetic): the product of two int8
 * differences is at most 255 * 255, so it fits int32 before the requantization. */
#include "mcf_arith.h"
#include "mcf_broadcast.h"

static inline int8_t prelu_one(const mcf_prelu_s8_args *a, int32_t x, int32_t slope)
{
    const int32_t v = x - a->in_zp;
    const int32_t y = v >= 0 ? mcf_requantize(v, a->mult_pos, a->shift_pos)
                             : mcf_requantize(v * (slope - a->alpha_zp), a->mult_neg, a->shift_neg);
    return mcf_sat_s8(y + a->out_zp, -128, 127);
}

void mcf_prelu_s8(const mcf_prelu_s8_args *a, const int8_t *in, const int8_t *slope, int8_t *out)
{
    mcf_bc_iter it;
    mcf_bc_begin(&it);
    for (int32_t i = 0; i < a->bc.size; ++i) {
        out[i] = prelu_one(a, in[it.a_off], slope[it.b_off]);
        mcf_bc_next(&a->bc, &it);
    }
}
