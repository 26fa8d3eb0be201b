/*
 * mcf_dsp_s16.h - the 16x8 dot product on the DSP extension (Cortex-M4 / M7 / M33): SMLALD adds
 * two int16 x int16 products to a 64-bit accumulator in one instruction.
 *
 * The int8 weights are reordered at compile time in groups of four as (w0, w2, w1, w3)
 * (codegen/c/variants/dsp_s16.py), so SXTB16 yields the int16 pair (w0, w1) and SXTB16 of the
 * word rotated by 8 yields (w2, w3), matching the input pairs (x0, x1) and (x2, x3) as they lie
 * in memory. The sum is the exact integer sum, as in the portable kernels.
 */
#ifndef MCF_DSP_S16_H
#define MCF_DSP_S16_H

#include <stdint.h>

#include "mcf_opt.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* acc + sum_{k < n} x[k] * w[k], w in the reordered layout (a tail of n % 4 in plain order). */
static inline int64_t mcf_dot_s16_s8_dsp(const int16_t *x, const int8_t *w, int32_t n, int64_t acc)
{
    int32_t k = 0;
    for (; k + 4 <= n; k += 4) {
        const uint32_t wv = (uint32_t)mcf_rd32(w + k);
        acc = (int64_t)__smlald((uint32_t)mcf_rd32(x + k), __sxtb16(wv), acc);
        acc = (int64_t)__smlald((uint32_t)mcf_rd32(x + k + 2), mcf_sxtb16_ror8(wv), acc);
    }
    for (; k < n; ++k) {
        acc += (int32_t)x[k] * (int32_t)w[k];
    }
    return acc;
}

/* Two dot products sharing the input x (two output channels): each input word is loaded once. */
static inline void mcf_dot2_s16_s8_dsp(const int16_t *x, const int8_t *w0, const int8_t *w1, int32_t n,
                                       int64_t *acc0, int64_t *acc1)
{
    int64_t s0 = *acc0, s1 = *acc1;
    int32_t k = 0;
    for (; k + 4 <= n; k += 4) {
        const uint32_t x01 = (uint32_t)mcf_rd32(x + k), x23 = (uint32_t)mcf_rd32(x + k + 2);
        const uint32_t wa = (uint32_t)mcf_rd32(w0 + k), wb = (uint32_t)mcf_rd32(w1 + k);
        s0 = (int64_t)__smlald(x01, __sxtb16(wa), s0);
        s1 = (int64_t)__smlald(x01, __sxtb16(wb), s1);
        s0 = (int64_t)__smlald(x23, mcf_sxtb16_ror8(wa), s0);
        s1 = (int64_t)__smlald(x23, mcf_sxtb16_ror8(wb), s1);
    }
    for (; k < n; ++k) {
        s0 += (int32_t)x[k] * (int32_t)w0[k];
        s1 += (int32_t)x[k] * (int32_t)w1[k];
    }
    *acc0 = s0;
    *acc1 = s1;
}
#endif

#endif /* MCF_DSP_S16_H */
