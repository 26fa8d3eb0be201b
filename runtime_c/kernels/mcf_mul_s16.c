/* int16 elementwise multiply with broadcasting: the product of two int16 values (|p| <= 2^30)
 * requantized once (TFLite's MulElementwise for int16). */
#include "mcf_arith_s16.h"
#include "mcf_broadcast.h"

static inline int16_t mul_one(const mcf_mul_s8_args *a, int32_t x1, int32_t x2)
{
    const int32_t prod = (x1 - a->in1_zp) * (x2 - a->in2_zp);
    const int32_t y = mcf_requantize(prod, a->mult, a->shift) + a->out_zp;
    return mcf_sat_s16(y, a->act_min, a->act_max);
}

void mcf_mul_s16(const mcf_mul_s8_args *a, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    MCF_BROADCAST_APPLY(mul_one, a, in1, in2, out);
}
