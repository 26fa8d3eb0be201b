/*
 * int8 add of two same-shape tensors in tuned portable C for cores without SIMD (Cortex-M0 / M3,
 * any C99 target), with no 64-bit library multiply (the M0 has no 32x32->64 multiply).
 *
 * TFLite's arithmetic per input is s = RDBP(SRDHM((x - zp) << 20, m), e) and the output is
 * RDBP(SRDHM(s1 + s2, mo), eo) + zp_out; the portable kernel runs each step in 64-bit C.
 * Input stage, in 32 bits: with d = x - zp (|d| <= 255) and m = mh 2^11 + ml (ml < 2^11),
 *   SRDHM(d 2^20, m) = floor((d m + 2^10) / 2^11) = d mh + ((d ml + 2^10) >> 11),
 * where d mh < 2^28 and d ml < 2^19; SRDHM rounds both signs alike (floor((v m + 2^30) / 2^31)).
 * On ARMv7-M the zero point is folded into the constant terms (x mh - zp mh, x ml + 2^10 - zp ml).
 * RDBP(s, e) = (s + 2^(e-1) - [s < 0]) >> e for e >= 1. An input whose multiplier is exactly
 * 2^30 with e = 0 (the input of the larger scale) needs no multiply: s = d << 19.
 * Output stage: |s1 + s2| < 2^28, so with A2 = 2 (s1 + s2) the identity of mcf_dsp_requant holds:
 *   SRDHM(A, mo) = floor((A2 mo + 2^31) / 2^32), and the rounding shift by eo (1..22) with the
 *   output zero point pre-added as rcz = 2^(eo-1) + zp 2^eo.
 * The high product is one SMULL on ARMv7-M (64-bit C); on ARMv6-M it is built from four 16x16
 * products: A2 = ah 2^16 + al (al the sign-extended low half, |ah| < 2^13), mo = bh 2^16 + bl,
 *   floor((A2 mo + 2^31) / 2^32) = ah bh + ((ah bl + al bh + ((al bl) >> 16) + 2^15) >> 16),
 * every partial sum below 2^31 in magnitude.
 * With requant="single" (MCF_SINGLE_ROUNDING, mcf_arith.h) the same forms without the rounding
 * terms of the high products (the 2^10, 2^15, 2^31 above) and without the [s < 0] terms give one
 * rounding of the exact product: floor((d m + 2^(10+e)) / 2^(11+e)) and floor(A mo / 2^(31+eo) + 1/2).
 * Four loops, one per combination of exact inputs, are instantiated from one inline body; all
 * constants live in locals. Preconditions (variants/fast_elementwise.py): same shapes, add,
 * multipliers >= 0, input shifts <= 0 (multiplier 2^30 where 0), left shift 20,
 * 1 <= -out_shift <= 22. Element i is written after both inputs' element i are read, so exact
 * aliasing is safe.
 */
#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_variants.h"

/* floor((a b + 2^31 MCF_RQ_HIGH_ROUND) / 2^32) + c for |a| < 2^29, 0 <= b < 2^31 */
static inline int32_t mulhi_round_acc(int32_t a, int32_t bh, int32_t bl, int32_t b, int32_t c)
{
#if defined(__ARM_ARCH_6M__)
    (void)b;
    const int32_t al = (int16_t)a;
    const int32_t ah = (a - al) >> 16;
    return ah * bh + c + ((ah * bl + al * bh + ((al * bl) >> 16) + (MCF_RQ_HIGH_ROUND << 15)) >> 16);
#else
    (void)bh;
    (void)bl;
    return (int32_t)(((int64_t)a * b + (int64_t)((uint64_t)(uint32_t)c << 32) + ((int64_t)MCF_RQ_HIGH_ROUND << 31)) >> 32);
#endif
}

/* s of one input; `exact`: multiplier 2^30, e = 0. ARMv7-M: the zero point folded into
 * k1 = -zp mh and k2 = 2^10 - zp ml (two multiply-accumulates); ARMv6-M (8 low registers): one
 * constant fewer, d = x - zp formed per element and k2 = 2^10. */
static inline __attribute__((always_inline)) int32_t scaled(int32_t x, int32_t zp, int32_t k1, int32_t mh,
                                                            int32_t ml, int32_t k2, int32_t rc, int32_t e,
                                                            const int exact)
{
#if defined(__ARM_ARCH_6M__)
    (void)k1;
    const int32_t d = x - zp;
    if (exact) {
        return d * (1 << 19);
    }
    const int32_t s = d * mh + ((d * ml + k2) >> 11);
    return (s + rc + MCF_RQ_NEG(d)) >> e;   /* [s < 0] read off d: they differ only where s = 0 */
#else
    (void)zp;
    if (exact) {
        return x * (1 << 19) + k1;
    }
    const int32_t s = x * mh + k1 + ((x * ml + k2) >> 11);
    return (s + MCF_RQ_NEG(s) + rc) >> e;
#endif
}

#define ADD_ONE(x1, x2)                                                                        \
    __extension__({                                                                            \
        const int32_t a2_ = 2 * (scaled((x1), zp1, k11, mh1, ml1, k21, rc1, e1, exact1)                   \
                                 + scaled((x2), zp2, k12, mh2, ml2, k22, rc2, e2, exact2));              \
        int32_t y_ = (mulhi_round_acc(a2_, moh, mol, mo, rcz) + MCF_RQ_NEG(a2_)) >> eo;         \
        y_ = y_ < lo ? lo : y_;                                                                \
        (int8_t)(y_ > hi ? hi : y_);                                                           \
    })

static inline __attribute__((always_inline)) void add_loop(const mcf_add_s8_args *a, const int8_t *in1,
                                                           const int8_t *in2, int8_t *out,
                                                           const int exact1, const int exact2)
{
    const int32_t e1 = -a->in1_shift, e2 = -a->in2_shift, eo = -a->out_shift;
    const int32_t mh1 = exact1 ? 1 << 19 : a->in1_mult >> 11, ml1 = a->in1_mult & 0x7FF;
    const int32_t mh2 = exact2 ? 1 << 19 : a->in2_mult >> 11, ml2 = a->in2_mult & 0x7FF;
    const int32_t zp1 = a->in1_zp, zp2 = a->in2_zp;
#if defined(__ARM_ARCH_6M__)
    const int32_t k11 = 0, k21 = MCF_RQ_HIGH_ROUND << 10, k12 = 0, k22 = MCF_RQ_HIGH_ROUND << 10;
#else
    const int32_t k11 = -zp1 * mh1, k21 = (MCF_RQ_HIGH_ROUND << 10) - zp1 * ml1;
    const int32_t k12 = -zp2 * mh2, k22 = (MCF_RQ_HIGH_ROUND << 10) - zp2 * ml2;
#endif
    const int32_t rc1 = exact1 ? 0 : 1 << (e1 - 1), rc2 = exact2 ? 0 : 1 << (e2 - 1);
    const int32_t mo = a->out_mult, moh = mo >> 16, mol = mo & 0xFFFF;
    const int32_t rcz = (int32_t)((1u << (eo - 1)) + (uint32_t)a->out_zp * (1u << eo));
    const int32_t lo = a->act_min, hi = a->act_max;
    const int32_t n = a->bc.size;
    for (int32_t i = 0; i < n; ++i) {
        out[i] = ADD_ONE(in1[i], in2[i]);
    }
}

void mcf_add_s8_fast(const mcf_add_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    const int exact1 = a->in1_shift == 0, exact2 = a->in2_shift == 0;
    if (exact1 && exact2) {
        add_loop(a, in1, in2, out, 1, 1);
    } else if (exact1) {
        add_loop(a, in1, in2, out, 1, 0);
    } else if (exact2) {
        add_loop(a, in1, in2, out, 0, 1);
    } else {
        add_loop(a, in1, in2, out, 0, 0);
    }
}
