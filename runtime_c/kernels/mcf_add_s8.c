/* int8 add / subtract with broadcasting (TFLite's arithmetic: both inputs rescaled to a common
 * scale with 20 bits of headroom, summed, then requantized to the output). */
#include "mcf_arith.h"
#include "mcf_broadcast.h"

static inline int8_t add_one(const mcf_add_s8_args *a, int32_t x1, int32_t x2)
{
    const int32_t s1 = mcf_requantize((int32_t)((uint32_t)(x1 - a->in1_zp) << a->left_shift), a->in1_mult, a->in1_shift);
    const int32_t s2 = mcf_requantize((int32_t)((uint32_t)(x2 - a->in2_zp) << a->left_shift), a->in2_mult, a->in2_shift);
    const int32_t sum = a->subtract ? s1 - s2 : s1 + s2;
    const int32_t y = mcf_requantize(sum, a->out_mult, a->out_shift) + a->out_zp;
    return mcf_sat_s8(y, a->act_min, a->act_max);
}

void mcf_add_s8(const mcf_add_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    if (a->bc.same_shape) {
        for (int32_t i = 0; i < a->bc.size; ++i) {
            out[i] = add_one(a, in1[i], in2[i]);
        }
        return;
    }
    mcf_bc_iter it;
    mcf_bc_begin(&it);
    for (int32_t i = 0; i < a->bc.size; ++i) {
        out[i] = add_one(a, in1[it.a_off], in2[it.b_off]);
        mcf_bc_next(&a->bc, &it);
    }
}
