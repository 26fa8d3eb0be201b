/* int16 softmax (TFLite's SoftmaxInt16): per row, exp(x - max) from a 513-entry table over
 * [-10, 0], the sum's reciprocal from a 1 / (1 + x) table after normalizing it to [1, 2), and
 * one rounding shift per output. Output scale 2^-15, zero point 0. */
#include "mcf_arith.h"
#include "mcf_kernels.h"

/* 9 bits choose the entry, 7 bits interpolate to the next one (rounded). */
static inline int32_t lut_lookup(int32_t v, const int16_t *lut)
{
    const int32_t idx = 256 + (v >> 7);
    const int32_t off = v & 0x7F;
    const int32_t base = lut[idx];
    const int32_t slope = (int16_t)(lut[idx + 1] - base);
    return (int16_t)(base + ((slope * off + 64) >> 7));
}

static inline int32_t leading_zeros(uint32_t x)
{
    int32_t n = 0;
    while (n < 32 && !(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
}

void mcf_softmax_s16(const mcf_softmax_s16_args *a, const int16_t *in, int16_t *out)
{
    const int32_t n = a->axis_len, inner = a->inner;
    for (int32_t o = 0; o < a->outer; ++o) {
        for (int32_t j = 0; j < inner; ++j) {
            const int16_t *x = in + (size_t)o * n * inner + j;
            int16_t *y = out + (size_t)o * n * inner + j;
            int32_t mx = -32768;
            for (int32_t c = 0; c < n; ++c) {
                mx = MCF_MAX(mx, (int32_t)x[(size_t)c * inner]);
            }
            /* the exp values are kept in the output (TFLite does the same): <= 32767 each */
            int32_t sum = 0;
            for (int32_t c = 0; c < n; ++c) {
                const int32_t scaled = mcf_requantize((int32_t)x[(size_t)c * inner] - mx, a->mult, a->shift);
                const int32_t e = lut_lookup(MCF_CLAMP(scaled + 32767, -32768, 32767), a->exp_lut);
                y[(size_t)c * inner] = (int16_t)e;
                sum += e;
            }
            const int32_t lz = leading_zeros((uint32_t)sum);
            const int32_t shifted = (int32_t)((((int64_t)sum << (lz - 1)) + (1 << 13)) >> 14);
            const int32_t recip = lut_lookup(MCF_CLAMP(shifted - ((1 << 15) + (1 << 16)), -32768, 32767), a->recip_lut);
            const int32_t rshift = 31 - lz;
            const int64_t round = (int64_t)1 << (rshift - 1);
            for (int32_t c = 0; c < n; ++c) {
                const int32_t v = (int32_t)(((int64_t)y[(size_t)c * inner] * recip + round) >> rshift);
                y[(size_t)c * inner] = (int16_t)MCF_CLAMP(v, 0, 32767);
            }
        }
    }
}
