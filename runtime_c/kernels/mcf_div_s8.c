/* int8 division with broadcasting: TFLite Micro's DIV (reference/logdiv_arith.py: div_int8). The
 * divisor's reciprocal by gemmlowp's Newton-Raphson 1 / (1 + x) on its normalized value, the
 * numerator normalized by its redundant sign bits, one doubling high multiply, the output
 * multiplier and a rounding shift done in 64 bits (defined for every shift, exact where C's
 * 32-bit shift would not be). A zero divisor saturates by the numerator's sign. */
#include "mcf_broadcast.h"
#include "mcf_fixedpoint.h"

#define MAX_SHIFT 40  /* |value| < 2^31: any larger right shift rounds to 0 as this one does */

static inline int32_t rounding_divide_by_pot64(int32_t x, int32_t exponent)
{
    const int64_t mask = ((int64_t)1 << exponent) - 1;
    const int64_t remainder = (int64_t)x & mask;
    const int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (int32_t)(((int64_t)x >> exponent) + (remainder > threshold ? 1 : 0));
}

static inline int32_t leading_sign_bits(int32_t x)
{
    return x >= 0 ? mcf_clz32((uint32_t)x) - 1 : mcf_clz32(~(uint32_t)x) - 1;
}

static inline int8_t div_one(const mcf_div_s8_args *a, int32_t x1, int32_t x2)
{
    int32_t num = x1 - a->in1_zp;
    int32_t den = x2 - a->in2_zp;
    int32_t y;
    if (den == 0) {
        y = num > 0 ? a->act_max : (num < 0 ? a->act_min : a->out_zp);
    } else {
        if (den < 0) {
            num = -num;
            den = -den;
        }
        const int32_t hp1 = mcf_clz32((uint32_t)den);
        const int32_t inv = mcf_one_over_one_plus_x((int32_t)(((uint32_t)den << hp1) - (1u << 31)));
        const int32_t headroom = leading_sign_bits(num);
        const int32_t unscaled = mcf_srdhm((int32_t)((uint32_t)num << headroom), inv);
        const int32_t right = headroom + (31 - hp1) - a->out_shift;   /* >= 0: out_shift <= 22 */
        y = rounding_divide_by_pot64(mcf_srdhm(unscaled, a->out_mult), MCF_MIN(right, MAX_SHIFT)) + a->out_zp;
    }
    return (int8_t)MCF_CLAMP(y, a->act_min, a->act_max);
}

void mcf_div_s8(const mcf_div_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    MCF_BROADCAST_APPLY(div_one, a, in1, in2, out);
}
