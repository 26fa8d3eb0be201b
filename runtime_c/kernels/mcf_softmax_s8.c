/* int8 softmax (output scale 1/256, zero point -128) in TFLite's fixed-point arithmetic. The
 * exponentials of the 256 possible differences from the row maximum come from a table computed
 * at compile time; the sum, its reciprocal and the output scaling run here. */
#include "mcf_fixedpoint.h"
#include "mcf_kernels.h"

#define ACC_INT_BITS 12

void mcf_softmax_s8(const mcf_softmax_s8_args *a, const int8_t *in, int8_t *out)
{
    for (int32_t o = 0; o < a->outer; ++o) {
        for (int32_t i = 0; i < a->inner; ++i) {
            const int8_t *x = in + (size_t)o * a->axis_len * a->inner + i;
            int8_t *y = out + (size_t)o * a->axis_len * a->inner + i;
            const int32_t max = mcf_strided_max_s8(x, a->axis_len, a->inner);
            int32_t sum = 0;
            for (int32_t c = 0; c < a->axis_len; ++c) {
                const int32_t e = a->exp_table[max - x[c * a->inner]];
                sum = mcf_wrap_add(sum, mcf_rounding_divide_by_pot(e, ACC_INT_BITS));
            }
            const int32_t headroom_plus_one = mcf_clz32((uint32_t)sum);
            const int32_t bits_over_unit = ACC_INT_BITS - headroom_plus_one;
            const int32_t shifted_minus_one = (int32_t)(((uint32_t)sum << headroom_plus_one) - (1u << 31));
            const int32_t scale = mcf_one_over_one_plus_x(shifted_minus_one);
            for (int32_t c = 0; c < a->axis_len; ++c) {
                const int32_t e = a->exp_table[max - x[c * a->inner]];
                const int32_t v = mcf_rounding_divide_by_pot(mcf_srdhm(scale, e), bits_over_unit + 31 - 8) - 128;
                y[c * a->inner] = (int8_t)MCF_CLAMP(v, -128, 127);
            }
        }
    }
}
