/* int8 layer normalization with exact integer steps (the rule is stated in ir/ops/layernorm.py):
 * d = n * q - sum(q); T = sum(d^2) + eps_q; r = isqrt(T << 2k) with r in [2^30, 2^31);
 * n_i = round(|d_i| << k << 30 / r) with d_i's sign; y = requant(n_i, mult_c, shift_c) + bias_c + zp. */
#include "mcf_arith.h"
#include "mcf_kernels.h"

/* floor(sqrt(v)), digit by digit (two bits of v per result bit) */
static uint32_t isqrt_u64(uint64_t v)
{
    uint64_t res = 0;
    uint64_t bit = (uint64_t)1 << 62;
    while (bit > v) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (v >= res + bit) {
            v -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return (uint32_t)res;
}

static int32_t bit_length_u64(uint64_t v)
{
    int32_t n = 0;
    while (v != 0) {
        v >>= 1;
        ++n;
    }
    return n;
}

void mcf_layernorm_s8(const mcf_layernorm_s8_args *a, const int8_t *in, int8_t *out)
{
    const int32_t n = a->n;
    for (int32_t row = 0; row < a->rows; ++row) {
        const int8_t *x = in + row * n;
        int8_t *y = out + row * n;
        int32_t s = 0;
        for (int32_t i = 0; i < n; ++i) {
            s += x[i];
        }
        uint64_t t = (uint64_t)a->eps_q;
        for (int32_t i = 0; i < n; ++i) {
            const int64_t d = (int64_t)(n * (int32_t)x[i] - s);
            t += (uint64_t)(d * d);
        }
        int32_t k = 0;
        uint32_t r = 0;
        if (t != 0) {
            k = (62 - bit_length_u64(t)) / 2;
            r = isqrt_u64(t << (2 * k));
        }
        for (int32_t i = 0; i < n; ++i) {
            const int32_t d = n * (int32_t)x[i] - s;
            int32_t q = 0;
            if (r != 0) {
                const uint64_t mag = (uint64_t)(d < 0 ? -d : d) << k;
                const int32_t qm = (int32_t)(((mag << 30) + (r >> 1)) / r);
                q = d < 0 ? -qm : qm;
            }
            const int32_t v = mcf_requantize(q, a->mult[i], a->shift[i]) + a->bias[i] + a->out_zp;
            y[i] = mcf_sat_s8(v, -128, 127);
        }
    }
}
