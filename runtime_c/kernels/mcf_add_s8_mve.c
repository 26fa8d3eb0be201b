/*
 * int8 add of two same-shape tensors for Cortex-M55 (Helium / MVE).
 *
 * TFLite's arithmetic per input is s = RDBP(SRDHM((x - zp) << 20, m), e) and the output is
 * RDBP(SRDHM(s1 + s2, mo), eo) + zp_out, computed four elements per vector in int32 lanes:
 * VLDRB.S32 widens while loading, one VMLAS forms (x - zp) << 20 (x times a vector of 2^20 plus
 * the scalar -zp << 20), VQRDMULH is SRDHM exactly (both are floor((v m + 2^30) / 2^31), and both
 * saturate the one overflowing case), and RDBP(s, e) = VRSHL(s - [s < 0], -e) for e >= 1 (VRSHL
 * rounds half up; subtracting 1 from negative values turns that into half away from zero).
 * An input whose multiplier is exactly 2^30 with e = 0 (the input of the larger scale: its ratio
 * is 1/2) is exact without a multiply: s = (x - zp) << 19, one VMLAS. Four loops, one per
 * combination of the two cases, come from one inline body. The output is clamped in int32 and
 * stored with a truncating VSTRB.32; the last (n mod 4) elements run under a tail predicate.
 * With requant="single" mcf_mve_requant_n is one rounding of the exact product instead (VMULH of
 * the doubled value, VRSHL; |(x - zp) << 21| and 2 |s1 + s2| stay below 2^30).
 * Preconditions (variants/mve_elementwise.py): same shapes, add, multipliers >= 0, input shifts
 * <= 0 (multiplier 2^30 where 0), left shift 20, output shift -31..-1.
 * Each vector of outputs is written after the inputs it reads, so exact aliasing is safe.
 */
#include <arm_mve.h>

#include "mcf_kernels.h"
#include "mcf_mve_requant.h"

typedef struct {
    int32_t zps1, m1, e1;       /* per input: -zp << 20 (<< 19 if exact), multiplier, -e */
    int32_t zps2, m2, e2;
    int32_t mo, eo, out_zp;     /* output: multiplier, -e, zero point */
    int32x4_t lo, hi;           /* activation clamp */
} add_consts;

static inline __attribute__((always_inline)) int32x4_t scaled(int32x4_t x, int32_t zps, int32_t m, int32_t neg_e,
                                                              const int exact)
{
    if (exact) {
        return vmlasq_n_s32(x, vdupq_n_s32(1 << 19), zps);
    }
    return mcf_mve_requant_n(vmlasq_n_s32(x, vdupq_n_s32(1 << 20), zps), m, neg_e);
}

static inline __attribute__((always_inline)) int32x4_t add4(const add_consts *k, int32x4_t x1, int32x4_t x2,
                                                            const int exact1, const int exact2)
{
    const int32x4_t sum = vaddq_s32(scaled(x1, k->zps1, k->m1, k->e1, exact1),
                                    scaled(x2, k->zps2, k->m2, k->e2, exact2));
    const int32x4_t y = vaddq_n_s32(mcf_mve_requant_n(sum, k->mo, k->eo), k->out_zp);
    return vminq_s32(vmaxq_s32(y, k->lo), k->hi);
}

static inline __attribute__((always_inline)) void add_loop(const add_consts *k, const int8_t *in1,
                                                           const int8_t *in2, int8_t *out, int32_t n,
                                                           const int exact1, const int exact2)
{
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const int32x4_t y0 = add4(k, vldrbq_s32(in1 + i), vldrbq_s32(in2 + i), exact1, exact2);
        const int32x4_t y1 = add4(k, vldrbq_s32(in1 + i + 4), vldrbq_s32(in2 + i + 4), exact1, exact2);
        vstrbq_s32(out + i, y0);
        vstrbq_s32(out + i + 4, y1);
    }
    for (; i < n; i += 4) {
        const mve_pred16_t p = vctp32q((uint32_t)(n - i));
        const int32x4_t y = add4(k, vldrbq_z_s32(in1 + i, p), vldrbq_z_s32(in2 + i, p), exact1, exact2);
        vstrbq_p_s32(out + i, y, p);
    }
}

void mcf_add_s8_mve(const mcf_add_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    const int exact1 = a->in1_shift == 0, exact2 = a->in2_shift == 0;
    const add_consts k = {
        .zps1 = -(int32_t)((uint32_t)a->in1_zp << (exact1 ? 19 : 20)), .m1 = a->in1_mult, .e1 = a->in1_shift,
        .zps2 = -(int32_t)((uint32_t)a->in2_zp << (exact2 ? 19 : 20)), .m2 = a->in2_mult, .e2 = a->in2_shift,
        .mo = a->out_mult, .eo = a->out_shift, .out_zp = a->out_zp,
        .lo = vdupq_n_s32(a->act_min), .hi = vdupq_n_s32(a->act_max),
    };
    const int32_t n = a->bc.size;
    if (exact1 && exact2) {
        add_loop(&k, in1, in2, out, n, 1, 1);
    } else if (exact1) {
        add_loop(&k, in1, in2, out, n, 1, 0);
    } else if (exact2) {
        add_loop(&k, in1, in2, out, n, 0, 1);
    } else {
        add_loop(&k, in1, in2, out, n, 0, 0);
    }
}
