/*
 * mcf_opt.h - helpers shared by the optimized kernel variants (DSP SIMD, Helium, tuned C).
 *
 * Conventions of the compile-time prepared constants (compiler/mcuforge/codegen/c/variants.py):
 *  - the input zero point is folded into the bias: sum((x - zp) * w) + b = sum(x * w) + (b - zp * sum(w)),
 *    so kernels multiply raw int8 inputs and fill padding with the zero point;
 *  - DSP variants: per output channel 4 words {2 * bias', multiplier, rcz, e} with e = -shift in
 *    [1, 22] and rcz = 2^(e-1) + out_zp * 2^e, weights doubled to int16, worst-case |acc| < 2^30.
 *    Then requantization is exact (see mcf_dsp_requant), in either rounding mode: the constants
 *    are the same, mcf_config.h's MCF_SINGLE_ROUNDING switches the instructions.
 */
#ifndef MCF_OPT_H
#define MCF_OPT_H

#include <stdint.h>
#include <string.h>

#include "mcf_arith.h"   /* MCF_SINGLE_ROUNDING (mcf_config.h) */

/* Unaligned-safe 32-bit load and store (one LDR / STR on cores that allow unaligned access). */
static inline int32_t mcf_rd32(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline void mcf_wr32(void *p, int32_t v)
{
    memcpy(p, &v, 4);
}

/* Rotate right by 8: GCC folds it into the operand of SXTB16 (GCC 12 has no __ror). */
static inline uint32_t mcf_ror8(uint32_t x)
{
    return (x >> 8) | (x << 24);
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>

/* SXTB16 of x rotated right by 8 (bytes 1 and 3), in one instruction: GCC 12's __sxtb16 does not
 * fold a rotation into its operand, so it is written out. */
static inline uint32_t mcf_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* acc16x2 + sign-extended bytes 1 and 3 of x, in one SXTAB16 with a rotated operand */
static inline uint32_t mcf_sxtab16_ror8(uint32_t acc, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
    return r;
}

/* Bytewise signed max / min of four int8 lanes: SSUB8 sets GE[i] where a[i] >= b[i] (resp.
 * b[i] >= a[i]), SEL picks by it. */
static inline uint32_t mcf_max4_s8(uint32_t a, uint32_t b)
{
    (void)__ssub8(a, b);
    return __sel(a, b);
}

static inline uint32_t mcf_min4_s8(uint32_t a, uint32_t b)
{
    (void)__ssub8(b, a);
    return __sel(a, b);
}

/* (acc_hi * 2^32 + a * b + 2^31) >> 32 */
static inline int32_t mcf_smmlar(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* (acc_hi * 2^32 + a * b) >> 32, the high word floored */
static inline int32_t mcf_smmla(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/*
 * Requantization of x = acc2 / 2 plus the output zero point, exactly, with |x| < 2^30, m >= 0 and
 * 1 <= e <= 22, rcz = 2^(e-1) + zp * 2^e (no overflow: |rcz| < 2^30, |acc2 m| / 2^32 < 2^30).
 * TFLite's double rounding (the default), four instructions:
 *   SRDHM(x, m) = floor((x m + 2^30) / 2^31) = floor((acc2 m + 2^31) / 2^32) = SMMULR(acc2, m) = s;
 *   rounding divide (half away from zero) = (s + 2^(e-1) - [s < 0]) >> e, and [s < 0] may be
 *   replaced by [x < 0]: they differ only when s == 0, where the result is 0 either way;
 *   adding zp * 2^e before the shift adds zp after it.
 * One rounding of the exact product (MCF_SINGLE_ROUNDING, requant="single"), two instructions:
 *   floor(x m / 2^(31+e) + 1/2) + zp = floor((acc2 m + rcz 2^32) / 2^(32+e))
 *     = floor(floor((acc2 m + rcz 2^32) / 2^32) / 2^e) = SMMLA(acc2, m, rcz) >> e.
 * MCF_DSP_RQ_ASM is the same in assembly for the hand-written loops: `dst` = requantized `acc`
 * (m, rcz, e in registers).
 */
#if MCF_SINGLE_ROUNDING
static inline int32_t mcf_dsp_requant(int32_t acc2, int32_t m, int32_t rcz, int32_t e)
{
    return mcf_smmla(acc2, m, rcz) >> e;
}
#define MCF_DSP_RQ_ASM(dst, acc, m, rcz, e)                                         \
    "smmla " dst ", " acc ", " m ", " rcz "\n\t"                                   \
    "asr " dst ", " dst ", " e "\n\t"
#else
static inline int32_t mcf_dsp_requant(int32_t acc2, int32_t m, int32_t rcz, int32_t e)
{
    const int32_t s = mcf_smmlar(acc2, m, rcz) + (acc2 >> 31);
    return s >> e;
}
#define MCF_DSP_RQ_ASM(dst, acc, m, rcz, e)                                         \
    "smmlar " dst ", " acc ", " m ", " rcz "\n\t"                                  \
    "add " dst ", " dst ", " acc ", asr #31\n\t"                                   \
    "asr " dst ", " dst ", " e "\n\t"
#endif

/* One output byte from a doubled accumulator and its {2 * bias', m, rcz, e}, clamped to [lo, hi]. */
static inline int8_t mcf_dsp_store(int32_t acc2, const int32_t *q, int32_t lo, int32_t hi)
{
    int32_t y = __ssat(mcf_dsp_requant(acc2, q[1], q[2], q[3]), 8);
    y = y < lo ? lo : y;
    return (int8_t)(y > hi ? hi : y);
}

/* Dot products of `steps` groups of 4 int8 inputs (widened with SXTB16) with two channels'
 * doubled int16 weights in SXTB16 order, per group ch0's two words then ch1's; returns the weight
 * pointer past them. */
static inline const int32_t *mcf_dsp_dot2(const int8_t *x, const int32_t *wp, int32_t steps, int32_t *a0,
                                          int32_t *a1)
{
    int32_t s0 = *a0, s1 = *a1;
    for (int32_t s = 0; s < steps; ++s, x += 4, wp += 4) {
        const uint32_t v = (uint32_t)mcf_rd32(x);
        const int32_t xe = (int32_t)__sxtb16(v), xo = (int32_t)mcf_sxtb16_ror8(v);
        s0 = __smlad(wp[0], xe, s0);
        s0 = __smlad(wp[1], xo, s0);
        s1 = __smlad(wp[2], xe, s1);
        s1 = __smlad(wp[3], xo, s1);
    }
    *a0 = s0;
    *a1 = s1;
    return wp;
}

/* The same for one channel (two weight words per group). */
static inline const int32_t *mcf_dsp_dot1(const int8_t *x, const int32_t *wp, int32_t steps, int32_t *a0)
{
    int32_t s0 = *a0;
    for (int32_t s = 0; s < steps; ++s, x += 4, wp += 2) {
        const uint32_t v = (uint32_t)mcf_rd32(x);
        s0 = __smlad(wp[0], (int32_t)__sxtb16(v), s0);
        s0 = __smlad(wp[1], (int32_t)mcf_sxtb16_ror8(v), s0);
    }
    *a0 = s0;
    return wp;
}
#endif

#endif /* MCF_OPT_H */
