/* int16 hard-swish, x * relu6(x + 3) / 6 (zero points 0; reference/logdiv_arith.py:
 * hardswish_int16): the factor in Q30 by one rounded multiply, the product rounded to Q16, one
 * rounded Q31 output multiplier. All in int64: |x * r| <= 2^45, |q16 * out_mult| < 2^62. */
#include "mcf_arith.h"
#include "mcf_kernels.h"

#define R_BITS 30
#define P_BITS 16

void mcf_hardswish_s16(const mcf_hardswish_s16_args *a, const int16_t *in, int16_t *out)
{
    const int64_t one = (int64_t)1 << R_BITS;
    const int64_t r_round = (int64_t)1 << (a->r_shift - 1);
    const int64_t out_round = (int64_t)1 << (a->out_shift - 1);
    for (int32_t i = 0; i < a->size; ++i) {
        const int64_t x = in[i];
        int64_t r = ((x * a->r_mult + r_round) >> a->r_shift) + (one >> 1);
        r = MCF_CLAMP(r, 0, one);
        const int64_t q16 = (x * r + ((int64_t)1 << (R_BITS - P_BITS - 1))) >> (R_BITS - P_BITS);
        const int64_t y = (q16 * a->out_mult + out_round) >> a->out_shift;
        out[i] = (int16_t)MCF_CLAMP(y, -32768, 32767);
    }
}
