/* int8 L2 normalization along one axis (TFLite's arithmetic): per row the sum of squared
 * differences from the zero point (at most 255^2 per element: int32 holds rows of 33 000),
 * its inverse square root by five Newton-Raphson steps in Q3.28, then each difference scaled
 * to the output grid 1/128 with zero point 0. */
#include "mcf_fixedpoint.h"
#include "mcf_kernels.h"

/* 1 / sqrt(value) as a multiplier and shift for mcf_requantize. */
static void inv_sqrt(int32_t value, int32_t *mult, int32_t *shift)
{
    if (value <= 1) {
        *mult = INT32_MAX;
        *shift = 0;
        return;
    }
    int32_t s = 11;
    while (value >= (1 << 29)) {
        value /= 4;
        ++s;
    }
    const int32_t pairs = (mcf_clz32((uint32_t)value) - 1) / 2 - 1;
    s -= pairs;
    value = (int32_t)((uint32_t)value << (2 * pairs));
    const int32_t half_input = mcf_rounding_divide_by_pot(value >> 1, 1);
    const int32_t half_three = (1 << 28) + (1 << 27);
    int32_t x = 1 << 28;
    for (int32_t i = 0; i < 5; ++i) {
        const int32_t x3 = mcf_sat_rounding_mul_pot(mcf_srdhm(mcf_srdhm(x, x), x), 6);
        x = mcf_sat_rounding_mul_pot(mcf_wrap_sub(mcf_srdhm(half_three, x), mcf_srdhm(half_input, x3)), 3);
    }
    x = mcf_srdhm(x, 1518500250); /* sqrt(2) / 2 */
    if (s < 0) {
        x = (int32_t)((uint32_t)x << -s);
        s = 0;
    }
    *mult = x;
    *shift = -s;
}

void mcf_l2norm_s8(const mcf_l2norm_args *a, const int8_t *in, int8_t *out)
{
    for (int32_t o = 0; o < a->outer; ++o) {
        for (int32_t i = 0; i < a->inner; ++i) {
            const int8_t *x = in + (size_t)o * a->axis_len * a->inner + i;
            int8_t *y = out + (size_t)o * a->axis_len * a->inner + i;
            int32_t acc = 0;
            for (int32_t c = 0; c < a->axis_len; ++c) {
                const int32_t v = x[c * a->inner] - a->in_zp;
                acc += v * v;
            }
            int32_t mult, shift;
            inv_sqrt(acc, &mult, &shift);
            for (int32_t c = 0; c < a->axis_len; ++c) {
                const int32_t v = mcf_requantize(x[c * a->inner] - a->in_zp, mult, shift + 7);
                y[c * a->inner] = mcf_sat_s8(v, -128, 127);
            }
        }
    }
}
