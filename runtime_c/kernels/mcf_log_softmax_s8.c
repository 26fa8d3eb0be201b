/* int8 log-softmax (TFLite Micro's LOG_SOFTMAX: output scale 16/256, zero point 127). The
 * differences from the row maximum in Q5.26 and their exponentials in Q12.19 come from tables
 * computed at compile time; the sum, its logarithm (a rational approximation around 2^0.25 plus
 * the exponent times log 2, gemmlowp's fixed-point steps) and the output scaling run here. */
#include "mcf_fixedpoint.h"
#include "mcf_kernels.h"

#define DIFF_BITS 5
#define ACC_BITS 12
#define OUT_BITS 4
#define LOG_ACC_BITS (DIFF_BITS + 1)

static int32_t sat_add(int32_t a, int32_t b)
{
    const int64_t s = (int64_t)a + (int64_t)b;
    return (int32_t)MCF_CLAMP(s, (int64_t)INT32_MIN, (int64_t)INT32_MAX);
}

/* log(x) of a Q12.19 value x >= 1, as Q5.26 (reference/logdiv_arith.py: log_q5_of_q12) */
static int32_t log_q5_of_q12(int32_t x)
{
    const int32_t log_2 = 1488522236, sqrt_sqrt_half = 1805811301, sqrt_half = 1518500250;
    const int32_t alpha_n = 117049297, alpha_d = 127690142, alpha_i = 1057819769, alpha_f = 638450708;
    const int32_t quarter = mcf_rounding_divide_by_pot(536870912, LOG_ACC_BITS);
    const int32_t hp1 = mcf_clz32((uint32_t)x);
    const int32_t r_a = mcf_sat_rounding_mul_pot(mcf_srdhm(mcf_sat_rounding_mul_pot(x, hp1 - 1), sqrt_half), 1);
    const int32_t z_a = sat_add(mcf_sat_rounding_mul_pot(ACC_BITS - hp1, 31 - LOG_ACC_BITS), quarter);
    const int32_t hb = mcf_clz32((uint32_t)mcf_srdhm(x, sqrt_half)) - 1;
    const int32_t r_b = mcf_sat_rounding_mul_pot(x, hb);
    const int32_t z_b = sat_add(mcf_sat_rounding_mul_pot(ACC_BITS - hb, 31 - LOG_ACC_BITS), -quarter);
    const int32_t r = MCF_MIN(r_a, r_b);
    const int32_t z = MCF_MAX(z_a, z_b);
    const int32_t p = mcf_rounding_half_sum(r, sqrt_sqrt_half);
    int32_t q = mcf_wrap_sub(r, sqrt_sqrt_half);
    q = mcf_wrap_add(q, q);
    const int32_t sq = mcf_srdhm(q, q);
    const int32_t num = mcf_wrap_add(mcf_srdhm(q, r), mcf_srdhm(mcf_srdhm(q, sq), alpha_n));
    const int32_t den = mcf_wrap_add(
        mcf_srdhm(p, mcf_wrap_add(mcf_wrap_add(alpha_i, q), mcf_srdhm(alpha_d, sq))), mcf_srdhm(alpha_f, q));
    const int32_t recip = mcf_one_over_one_plus_x(den);
    const int32_t num_scaled = mcf_rounding_divide_by_pot(num, LOG_ACC_BITS);
    return mcf_sat_rounding_mul_pot(mcf_wrap_add(mcf_srdhm(z, log_2), mcf_srdhm(num_scaled, recip)), 1);
}

/* one row: axis_len values `inner` apart */
static void log_softmax_row(const mcf_log_softmax_s8_args *a, const int8_t *x, int8_t *y)
{
    const int32_t stride = a->inner;
    const int32_t max = mcf_strided_max_s8(x, a->axis_len, stride);
    /* axis_len < 2^12 (checked at compile time) and each term <= 2^19: no overflow */
    int32_t sum = 0;
    for (int32_t c = 0; c < a->axis_len; ++c) {
        sum += a->exp_q12[max - x[c * stride]];
    }
    const int32_t log_sum = log_q5_of_q12(sum);
    const int32_t floor = mcf_rounding_divide_by_pot(mcf_srdhm(mcf_wrap_add(log_sum, INT32_MIN), a->rev_mult),
                                                     -a->rev_shift);
    const int32_t adjusted_min = MCF_MAX(a->diff_min - 1, floor);
    for (int32_t c = 0; c < a->axis_len; ++c) {
        const int32_t d = max - x[c * stride];
        int32_t v = -128;
        if (-d > adjusted_min) {
            v = mcf_rounding_divide_by_pot(mcf_wrap_sub(a->diff_q5[d], log_sum), 31 - DIFF_BITS - OUT_BITS) + 127;
            v = MCF_CLAMP(v, -128, 127);
        }
        y[c * stride] = (int8_t)v;
    }
}

void mcf_log_softmax_s8(const mcf_log_softmax_s8_args *a, const int8_t *in, int8_t *out)
{
    const size_t row = (size_t)a->axis_len * a->inner;
    for (int32_t o = 0; o < a->outer; ++o) {
        for (int32_t i = 0; i < a->inner; ++i) {
            log_softmax_row(a, in + o * row + i, out + o * row + i);
        }
    }
}
