/*
 * mcf_subbyte_mve_quant.h - the per-channel constants of the Helium (M55) sub-byte kernels, read
 * from the compact storage the portable kernels use (mcf_subbyte.h): the folded bias (bias -
 * in_zp * sum(w)) as int16 (`bias16`) when every one of the layer fits, else int32 (`bias`); the
 * Q31 multiplier as uint16 (`rq.mult16` = Q31 >> 15) when exact, else int32 (`rq.mult`); TFLite's
 * shift as int8 (`rq.shift`). 5 bytes a channel where both narrow forms fit (every MLPerf layer's
 * multiplier, all but a few biases) instead of the int8 Helium kernels' 12 to 20.
 *
 * The int8 Helium kernels read per channel a folded bias, a left shift l, the multiplier, a fix-up
 * mask f and a negated right shift -r (mcf_mve_requant.h; variants/mve.py: mve_shifts). From the
 * shift s, four lanes at a time:
 *   double rounding (TFLite): l = max(s, 0), -r = min(s, 0), f = s >> 31 (-1 where s < 0)
 *   single rounding:          l = max(s + 2, 0), -r = min(s + 1, -1), f = 0
 *     (mve_shifts' k = max(0, 2 - r): s <= -2 gives l = 0, r' = r - 1; s = -1 gives 1, 1; s >= 0
 *     gives s + 2, 1)
 * and the mode word of a set of channels (1: some l > 0, 2: some channel without a right shift,
 * double rounding only) as mve_mode computes it, from the largest s.
 * The convolution (mcf_subbyte_mve.h) expands a block's constants into the scratch it already
 * filled with a copy, the depthwise (mcf_subbyte_mve_dw.h) the layer's at the start, the fully
 * connected kernel (mcf_subbyte_mve_fc.h) reads them in its requantization.
 */
#ifndef MCF_SUBBYTE_MVE_QUANT_H
#define MCF_SUBBYTE_MVE_QUANT_H

#include <arm_mve.h>
#include <stdint.h>

#include "mcf_arith.h"
#include "mcf_subbyte.h"

/* Four channels' constants in the int8 Helium kernels' form. */
typedef struct {
    int32x4_t b, l, m, f, r;
} mcf_sub_mve_q4;

/* Channels c .. c + 3 (lanes outside p zero: zero padded groups). */
static inline __attribute__((always_inline)) mcf_sub_mve_q4 mcf_sub_mve_q4_load(const int32_t *bias,
                                                                                const int16_t *bias16,
                                                                                const mcf_requant_sub *rq, int32_t c,
                                                                                mve_pred16_t p)
{
    mcf_sub_mve_q4 q;
    q.b = bias16 ? vldrhq_z_s32(bias16 + c, p) : bias ? vldrwq_z_s32(bias + c, p) : vdupq_n_s32(0);
    q.m = rq->mult16 ? vreinterpretq_s32_u32(vshlq_n_u32(vldrhq_z_u32(rq->mult16 + c, p), 15))
                     : vldrwq_z_s32(rq->mult + c, p);
    const int32x4_t s = vldrbq_z_s32(rq->shift + c, p);
#if MCF_SINGLE_ROUNDING
    q.l = vmaxq_s32(vaddq_n_s32(s, 2), vdupq_n_s32(0));
    q.r = vminq_s32(vaddq_n_s32(s, 1), vdupq_n_s32(-1));
    q.f = vdupq_n_s32(0);
#else
    q.l = vmaxq_s32(s, vdupq_n_s32(0));
    q.r = vminq_s32(s, vdupq_n_s32(0));
    q.f = vshrq_n_s32(s, 31);
#endif
    return q;
}

/* The mode word of channels c0 .. c0 + n - 1 (n >= 1). */
static inline int32_t mcf_sub_mve_mode(const mcf_requant_sub *rq, int32_t c0, int32_t n)
{
    int32_t smax = -128;
    for (int32_t i = 0; i < n; i += 16) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - i));
        smax = vmaxvq_p_s8((int8_t)smax, vldrbq_z_s8(rq->shift + c0 + i, p), p);
    }
#if MCF_SINGLE_ROUNDING
    return smax >= -1 ? 1 : 0;
#else
    return (smax > 0 ? 1 : 0) | (smax >= 0 ? 2 : 0);
#endif
}

/* The mve_quant4 layout of channels 0 .. n - 1 (folded biases [n rounded up to 4], then per group
 * of 4 channels l, m, f, -r) at dst (16-byte aligned): the int8 Helium depthwise kernel's. */
static inline void mcf_sub_mve_quant4(const int32_t *bias, const int16_t *bias16, const mcf_requant_sub *rq,
                                      int32_t n, int32_t *dst)
{
    const int32_t n4 = (n + 3) & ~3;
    int32_t *b = dst, *q = dst + n4;
    for (int32_t c = 0; c < n; c += 4, b += 4, q += 16) {
        const mcf_sub_mve_q4 v = mcf_sub_mve_q4_load(bias, bias16, rq, c, vctp32q((uint32_t)(n - c)));
        vst1q_s32(b, v.b);
        vst1q_s32(q, v.l);
        vst1q_s32(q + 4, v.m);
        vst1q_s32(q + 8, v.f);
        vst1q_s32(q + 12, v.r);
    }
}

#endif /* MCF_SUBBYTE_MVE_QUANT_H */
