/* int8 maximum / minimum with broadcasting: both inputs on the output grid (a Q31 requantization of
 * the input shifted left 20 bits, so it rounds once, unless they are there already), then compared. */
#include "mcf_arith.h"
#include "mcf_broadcast.h"

static inline int8_t maxmin_one(const mcf_maxmin_s8_args *a, int32_t x1, int32_t x2)
{
    if (!a->raw) {
        /* |x - zp| <= 255, so the 20-bit left shift stays below 2^28 */
        x1 = mcf_requantize((int32_t)((uint32_t)(x1 - a->in1_zp) << a->left_shift), a->in1_mult, a->in1_shift);
        x2 = mcf_requantize((int32_t)((uint32_t)(x2 - a->in2_zp) << a->left_shift), a->in2_mult, a->in2_shift);
        x1 = MCF_CLAMP(x1 + a->out_zp, -128, 127);
        x2 = MCF_CLAMP(x2 + a->out_zp, -128, 127);
    }
    return (int8_t)(a->is_max ? MCF_MAX(x1, x2) : MCF_MIN(x1, x2));
}

void mcf_maxmin_s8(const mcf_maxmin_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    MCF_BROADCAST_APPLY(maxmin_one, a, in1, in2, out);
}
