/*
 * mcf_mve_requant.h - the requantization of the Helium (MVE) kernels, written once and switched
 * by mcf_config.h's MCF_SINGLE_ROUNDING (mcf_arith.h) like every other kernel's.
 *
 * Per channel the kernels hold a left shift l, a multiplier m and a right shift r (as -r), and
 * compute y = VRSHL(fix(MUL(x << l, m)), -r) + zp:
 *   double (TFLite): MUL = VQRDMULH (= SRDHM), fix = subtract 1 from negative lanes that shift
 *     right (VRSHL rounds half up, TFLite half away from zero); l, r the layer's own shifts.
 *   single: MUL = VMULH (floor(a b / 2^32)), no fix. With X = x 2^(l+k), r' = r + k - 1 >= 1:
 *     VRSHL(VMULH(X, m), -r') = floor((floor(X m / 2^32) + 2^(r'-1)) / 2^r')
 *       = floor((x 2^l m + 2^(30+r)) / 2^(31+r)), one rounding of the exact product;
 *     the compiler (variants/mve.py: mve_shifts) stores l + k and r' with k = max(0, 2 - r), so
 *     a layer whose channels all shift right by 2 or more needs no left shift at all, and it
 *     checks |x| 2^(l+k) < 2^31.
 */
#ifndef MCF_MVE_REQUANT_H
#define MCF_MVE_REQUANT_H

#include <arm_mve.h>

#include "mcf_arith.h"

#if MCF_SINGLE_ROUNDING
#define MCF_MVE_RQ_MUL_ASM "vmulh.s32"
static inline __attribute__((always_inline)) int32x4_t mcf_mve_rq_mul(int32x4_t v, int32x4_t m)
{
    return vmulhq_s32(v, m);
}
static inline __attribute__((always_inline)) int32x4_t mcf_mve_rq_fix(int32x4_t v, int32x4_t f)
{
    (void)f;
    return v;
}
static inline __attribute__((always_inline)) int32x4_t mcf_mve_rq_fix_all(int32x4_t v)
{
    return v;
}
/* x m 2^-(31+e) rounded, for |x| < 2^30 and 1 <= e <= 31 (neg_e = -e): k = 1 above */
static inline __attribute__((always_inline)) int32x4_t mcf_mve_requant_n(int32x4_t x, int32_t m, int32_t neg_e)
{
    return vrshlq_n_s32(vmulhq_s32(vaddq_s32(x, x), vdupq_n_s32(m)), neg_e);
}
#else
#define MCF_MVE_RQ_MUL_ASM "vqrdmulh.s32"
static inline __attribute__((always_inline)) int32x4_t mcf_mve_rq_mul(int32x4_t v, int32x4_t m)
{
    return vqrdmulhq_s32(v, m);
}
/* lanes with f = -1 (those that shift right): negative values one lower */
static inline __attribute__((always_inline)) int32x4_t mcf_mve_rq_fix(int32x4_t v, int32x4_t f)
{
    return vqaddq_s32(v, vshrq_n_s32(vandq_s32(v, f), 31));
}
static inline __attribute__((always_inline)) int32x4_t mcf_mve_rq_fix_all(int32x4_t v)
{
    return vqaddq_s32(v, vshrq_n_s32(v, 31));
}
/* RDBP(SRDHM(x, m), e) for e >= 1 (neg_e = -e) */
static inline __attribute__((always_inline)) int32x4_t mcf_mve_requant_n(int32x4_t x, int32_t m, int32_t neg_e)
{
    const int32x4_t v = vqrdmulhq_n_s32(x, m);
    return vrshlq_n_s32(vaddq_s32(v, vshrq_n_s32(v, 31)), neg_e);
}
#endif

/* Four channels' accumulators requantized with mve_quant4's 16 words of their group (left shifts,
 * multipliers, fix-up masks, negated right shifts), plus the zero point, clamped to [lo, hi]. */
static inline int32x4_t mcf_mve_requant4(int32x4_t v, const int32_t *q, int32_t out_zp, int32_t lo, int32_t hi)
{
    v = vshlq_s32(v, vld1q_s32(q));
    v = mcf_mve_rq_mul(v, vld1q_s32(q + 4));
    v = mcf_mve_rq_fix(v, vld1q_s32(q + 8));
    v = vrshlq_s32(v, vld1q_s32(q + 12));
    v = vaddq_n_s32(v, out_zp);
    v = vmaxq_s32(v, vdupq_n_s32(lo));
    return vminq_s32(v, vdupq_n_s32(hi));
}

/* Bytes of four channels' outputs at o, only the first n (< 4) for the last partial group. */
static inline void mcf_mve_store4(int8_t *o, int32x4_t v, int32_t n)
{
    if (n >= 4) {
        vstrbq_s32(o, v);
    } else {
        vstrbq_p_s32(o, v, vctp32q((uint32_t)n));
    }
}

#endif /* MCF_MVE_REQUANT_H */
