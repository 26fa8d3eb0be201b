/*
 * Requantization of the tuned portable kernels (mcf_*_fast.c), written once: per channel
 * q = {bias', m, rcz, e} from variants/shared.py (fast_quant).
 */
#ifndef MCF_FAST_REQUANT_H
#define MCF_FAST_REQUANT_H

#include <stdint.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"

/* ARMv6-M (and v8-M baseline) has no 32 x 32 -> 64 multiply: a 64-bit product in C becomes a call
 * of the library's __aeabi_lmul */
#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__)
#define MCF_FAST_NO_LONG_MUL 1
#endif

/* floor((2 acc m + 2^31 MCF_RQ_HIGH_ROUND) / 2^32) for |acc| < 2^29, 0 <= m < 2^31 (fast_quant
 * checks both): the high product, rounded (double rounding) or floored (single, mcf_arith.h). */
static inline int32_t mcf_fast_mulhi(int32_t acc, int32_t m)
{
#ifdef MCF_FAST_NO_LONG_MUL
    /* A m with A = Ah 2^16 + Al and m = mh 2^16 + ml, low halves signed: every partial product and
     * the sum below stay within int32 (|A| < 2^30, |Ah| <= 2^14, mh <= 2^15, |Al|, |ml| <= 2^15),
     * and floor((x 2^16 + P0 + R) / 2^32) = (x + (P0 >> 16) + R / 2^16) >> 16 for R = 0 or 2^31 */
    const int32_t A = acc * 2;
    const int32_t al = (int16_t)A, ah = (A - al) >> 16;
    const int32_t ml = (int16_t)m, mh = (int32_t)(((uint32_t)m - (uint32_t)ml) >> 16);
    return ah * mh + ((ah * ml + al * mh + ((al * ml) >> 16) + (MCF_RQ_HIGH_ROUND << 15)) >> 16);
#else
    /* SMULL, then (double rounding) + bit 31 of the low word: the rounding without a 64-bit add */
    const int64_t p = (int64_t)(acc * 2) * m;
    return (int32_t)(p >> 32) + (MCF_RQ_HIGH_ROUND ? (int32_t)((uint32_t)p >> 31) : 0);
#endif
}

/* acc * m * 2^-(31+e) rounded (the graph's rounding) plus the output zero point, in 32 bits:
 * rcz = 2^(e-1) + zp 2^e, 1 <= e <= 22, |acc| < 2^29, m >= 0 (see mcf_dsp_requant in mcf_opt.h). */
static inline int32_t mcf_fast_requant(int32_t acc, int32_t m, int32_t rcz, int32_t e)
{
    return (mcf_fast_mulhi(acc, m) + rcz + MCF_RQ_NEG(acc)) >> e;
}

/* Requantization with q = {bias', m, rcz, e}: the 32-bit form where fast_quant proved it exact
 * (e >= 1; see mcf_dsp_requant in mcf_opt.h), else the reference one; all_fast (a constant after
 * inlining) says every channel of the layer has e >= 1. lo, hi: the fused activation's range. q,
 * lo and hi come from the caller's locals: read through `a` they would be reloaded after every
 * int8 store (which may alias anything). */
static inline int8_t mcf_fast_finish(const mcf_conv2d_s8_args *a, int32_t acc, int32_t oc, const int32_t *q, int32_t lo,
                            int32_t hi, int all_fast)
{
    int32_t y;
    if (all_fast || q[3] > 0) {
        y = mcf_fast_requant(acc, q[1], q[2], q[3]);
    } else {
        y = mcf_requantize(acc, a->rq.mult[oc], a->rq.shift[oc]) + a->rq.out_zp;
    }
    y = y < lo ? lo : y;
    return (int8_t)(y > hi ? hi : y);
}

#endif
