/* int16 add / subtract with broadcasting (TFLite's int16 ADD: both inputs rescaled to a common
 * scale with 15 bits of headroom, summed, then requantized to the output). */
#include "mcf_arith_s16.h"
#include "mcf_broadcast.h"

static inline int16_t add_one(const mcf_add_s8_args *a, int32_t x1, int32_t x2)
{
    const int32_t s1 = mcf_requantize((int32_t)((uint32_t)(x1 - a->in1_zp) << a->left_shift), a->in1_mult, a->in1_shift);
    const int32_t s2 = mcf_requantize((int32_t)((uint32_t)(x2 - a->in2_zp) << a->left_shift), a->in2_mult, a->in2_shift);
    const int32_t sum = a->subtract ? s1 - s2 : s1 + s2;
    const int32_t y = mcf_requantize(sum, a->out_mult, a->out_shift) + a->out_zp;
    return mcf_sat_s16(y, a->act_min, a->act_max);
}

void mcf_add_s16(const mcf_add_s8_args *a, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    MCF_BROADCAST_APPLY(add_one, a, in1, in2, out);
}
