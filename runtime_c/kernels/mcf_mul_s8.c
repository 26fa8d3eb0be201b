/* int8 elementwise multiply with broadcasting. */
#include "mcf_arith.h"
#include "mcf_broadcast.h"

static inline int8_t mul_one(const mcf_mul_s8_args *a, int32_t x1, int32_t x2)
{
    const int32_t prod = (x1 - a->in1_zp) * (x2 - a->in2_zp);
    const int32_t y = mcf_requantize(prod, a->mult, a->shift) + a->out_zp;
    return mcf_sat_s8(y, a->act_min, a->act_max);
}

void mcf_mul_s8(const mcf_mul_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    if (a->bc.same_shape) {
        for (int32_t i = 0; i < a->bc.size; ++i) {
            out[i] = mul_one(a, in1[i], in2[i]);
        }
        return;
    }
    mcf_bc_iter it;
    mcf_bc_begin(&it);
    for (int32_t i = 0; i < a->bc.size; ++i) {
        out[i] = mul_one(a, in1[it.a_off], in2[it.b_off]);
        mcf_bc_next(&a->bc, &it);
    }
}
