/* int8 squared difference with broadcasting (TFLite Micro's arithmetic): both inputs shifted left
 * 7 bits and rescaled to twice the larger input scale (|value| < 2^15), the difference squared
 * (< 2^30), then requantized to the output. Uses the add kernel's argument struct. */
#include "mcf_arith.h"
#include "mcf_broadcast.h"

static inline int8_t sqdiff_one(const mcf_add_s8_args *a, int32_t x1, int32_t x2)
{
    const int32_t s1 = mcf_requantize((x1 - a->in1_zp) * (1 << a->left_shift), a->in1_mult, a->in1_shift);
    const int32_t s2 = mcf_requantize((x2 - a->in2_zp) * (1 << a->left_shift), a->in2_mult, a->in2_shift);
    const int32_t d = s1 - s2;
    const int32_t y = mcf_requantize(d * d, a->out_mult, a->out_shift) + a->out_zp;
    return mcf_sat_s8(y, a->act_min, a->act_max);
}

void mcf_sqdiff_s8(const mcf_add_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    MCF_BROADCAST_APPLY(sqdiff_one, a, in1, in2, out);
}
