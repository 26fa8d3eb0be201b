/* int8 division with broadcasting: TFLite Micro's DIV (reference/logdiv_arith.py: div_int8). The
 * divisor's reciprocal (gemmlowp's Newton-Raphson 1 / (1 + x) on its normalized value) comes from
 * a compile-time table of the 255 possible magnitudes; the numerator normalized by its redundant
 * sign bits, one doubling high multiply, the output multiplier and a rounding shift defined for
 * every shift (the 64-bit value where C's 32-bit shift would not be). A zero divisor saturates by
 * the numerator's sign. */
#include "mcf_broadcast.h"
#include "mcf_fixedpoint.h"

/* x / 2^exponent rounded half away from zero for any exponent >= 0, as the 64-bit rule does:
 * beyond 31 bits every int32 rounds to 0, but for INT32_MIN / 2^32 = -1/2 (away from zero: -1). */
static inline int32_t rounding_divide_by_pot_any(int32_t x, int32_t exponent)
{
    if (exponent <= 31) {
        return mcf_rounding_divide_by_pot(x, exponent);
    }
    return (exponent == 32 && x == INT32_MIN) ? -1 : 0;
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
        const int32_t inv = a->recip[den];
        const int32_t headroom = leading_sign_bits(num);
        const int32_t unscaled = mcf_srdhm((int32_t)((uint32_t)num << headroom), inv);
        const int32_t right = headroom + (31 - hp1) - a->out_shift;   /* >= 0: out_shift <= 22 */
        y = rounding_divide_by_pot_any(mcf_srdhm(unscaled, a->out_mult), right) + a->out_zp;
    }
    return (int8_t)MCF_CLAMP(y, a->act_min, a->act_max);
}

void mcf_div_s8(const mcf_div_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    MCF_BROADCAST_APPLY(div_one, a, in1, in2, out);
}
