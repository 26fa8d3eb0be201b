/*
 * mcf_subbyte_mve_fc.h - fully connected layers with int4 / ternary weights on Cortex-M55 Helium,
 * instantiated per width by mcf_fully_connected_s8_w4_mve.c and ..._w2_mve.c.
 *
 * The int8 Helium FC kernel (mcf_fully_connected_s8_mve.c) spends per 16 inputs of four channels
 * one VLDRB of x, four of weights and four VMLADAVA. Here the four channels' weights come from one
 * (ternary) or two (int4) VLDRB of packed bytes, and no field is unpacked on its own: a byte b
 * holds its fields as one signed number (codegen/c/variants/dsp_subbyte.py: mve_fc_layout):
 *   ternary: b = u0 + 4 u1 + 16 u2 + 64 w3   (u = w + 1 in {0, 1, 2}, w3 two's complement)
 *   int4:    b = u0 + 16 w1                  (u0 = w0 + 8 in [0, 15], w1 two's complement)
 * The arithmetic shifts b >> 2, b >> 4, b >> 6 (int4: b >> 4) are again such numbers with the
 * lowest fields dropped (the dropped part is in [0, 2^s)), so one VSHR and one VMLADAVA per field:
 *   T_j = sum x (b >> 2j)  ->  w3 . x = T3, u2 . x = T2 - 4 T3, u1 . x = T1 - 4 T2, u0 . x = T0 - 4 T1
 *   (int4: w1 . x = T1, u0 . x = T0 - 16 T1), and w . x = u . x - o sum x (o = 1, int4 8).
 * Ternary: 9 instructions per 64 MACs, as the int8 kernel; int4 10. Raw int8 x (the bias folds
 * in_zp), the tail of K under a VCTP predicate (the weights' padding meets x = 0).
 * Constants: compact (mcf_subbyte_mve_quant.h; the arrays zero padded to whole groups of 4
 * channels, so every load is whole), read in the requantization: per group of 4 channels one
 * widening load each of bias16 (or bias), mult16 (then VSHL #15) and shift s; l = max(s, 0), -r =
 * min(s, 0), and s itself is the fix-up mask (the fix-up tests the sign bit of v & f). One VSHL,
 * VMAX and VMIN more than loading the int8 kernel's l, m, f, -r (20 bytes a channel), against 5
 * bytes; a layer without left shifts (`mve_mode`, the usual case) skips the VSHL, VMAX and VMIN
 * and needs fewer instructions than the int8 kernel's requantization.
 */
#ifndef MCF_SUBBYTE_MVE_FC_H
#define MCF_SUBBYTE_MVE_FC_H

#include <arm_mve.h>
#include <stdint.h>

#include "mcf_kernels.h"
#include "mcf_mve_requant.h"
#include "mcf_subbyte.h"
#include "mcf_subbyte_mve_quant.h"

/* T0..T3 of one block of 16 K of four channels (x vector xv, packed bytes at wp). */
#define MCF_SUB_MVE_FC_T4(xv, wp)                                                   \
    do {                                                                            \
        const int8x16_t b0_ = vld1q_s8(wp), b1_ = vld1q_s8((wp) + 16);              \
        t0 = vmladavaq_s8(t0, xv, b0_);                                             \
        t1 = vmladavaq_s8(t1, xv, vshrq_n_s8(b0_, 4));                              \
        t2 = vmladavaq_s8(t2, xv, b1_);                                             \
        t3 = vmladavaq_s8(t3, xv, vshrq_n_s8(b1_, 4));                              \
    } while (0)

#define MCF_SUB_MVE_FC_T2(xv, wp)                                                   \
    do {                                                                            \
        const int8x16_t b_ = vld1q_s8(wp);                                          \
        t0 = vmladavaq_s8(t0, xv, b_);                                              \
        t1 = vmladavaq_s8(t1, xv, vshrq_n_s8(b_, 2));                               \
        t2 = vmladavaq_s8(t2, xv, vshrq_n_s8(b_, 4));                               \
        t3 = vmladavaq_s8(t3, xv, vshrq_n_s8(b_, 6));                               \
    } while (0)

/* Four channels' accumulators requantized from the compact constants at b16 / b32, m16 / m32 and
 * sh. nb, nm: read bias16 / mult16 (else bias / mult), constants in the builds without tests;
 * nl = 1 when no channel shifts left (mve_mode bit 1 clear): then l = 0 and
 * -r = s (double rounding, s <= 0; s is also the fix-up mask) or s + 1 (single, s <= -2). */
static inline __attribute__((always_inline)) int32x4_t mcf_sub_mve_fc_requant(int32x4_t v, const int16_t *b16,
                                                                              const int32_t *b32, const uint16_t *m16,
                                                                              const int32_t *m32, const int8_t *sh,
                                                                              int nb, int nm, int nl)
{
    const int32x4_t b = nb ? vldrhq_s32(b16) : vldrwq_s32(b32);
    const int32x4_t m = nm ? vreinterpretq_s32_u32(vshlq_n_u32(vldrhq_u32(m16), 15)) : vldrwq_s32(m32);
    const int32x4_t s = vldrbq_s32(sh);
    v = vaddq_s32(v, b);
#if MCF_SINGLE_ROUNDING
    if (nl) {
        return vrshlq_s32(mcf_mve_rq_mul(v, m), vaddq_n_s32(s, 1));
    }
    v = vshlq_s32(v, vmaxq_s32(vaddq_n_s32(s, 2), vdupq_n_s32(0)));
    v = mcf_mve_rq_mul(v, m);
    return vrshlq_s32(v, vminq_s32(vaddq_n_s32(s, 1), vdupq_n_s32(-1)));
#else
    if (nl) {
        return vrshlq_s32(mcf_mve_rq_fix(mcf_mve_rq_mul(v, m), s), s);
    }
    v = vshlq_s32(v, vmaxq_s32(s, vdupq_n_s32(0)));
    v = mcf_mve_rq_mul(v, m);
    v = mcf_mve_rq_fix(v, s);
    return vrshlq_s32(v, vminq_s32(s, vdupq_n_s32(0)));
#endif
}

static inline __attribute__((always_inline)) void mcf_sub_mve_fc_rows(const mcf_fully_connected_sub_args *a,
                                                                      const int8_t *in, int8_t *out, int32_t bits,
                                                                      int nb, int nm, int nl)
{
    /* nb, nm < 0: the generic build, which tests the storage (per group) */
    nb = nb < 0 ? a->bias16 != NULL : nb;
    nm = nm < 0 ? a->rq.mult16 != NULL : nm;
    const int32_t k = a->in_features, n_out = a->out_features;
    const int32_t full = k >> 4, rest = k & 15;
    const int32_t zp = a->rq.out_zp, lo = a->rq.act_min, hi = a->rq.act_max;
    const mve_pred16_t p = vctp8q((uint32_t)rest);
    for (int32_t r = 0; r < a->rows; ++r) {
        const int8_t *x = in + (size_t)r * k;
        int8_t *o = out + (size_t)r * n_out;
        int32_t sx = 0;
        for (int32_t n = 0; n < full; ++n) {
            sx = vaddvaq_s8(sx, vld1q_s8(x + 16 * n));
        }
        if (rest) {
            sx = vaddvaq_s8(sx, vld1q_z_s8(x + 16 * full, p));
        }
        const int8_t *wp = (const int8_t *)a->weights;
        const int16_t *b16 = a->bias16;
        const int32_t *b32 = a->bias;
        const uint16_t *m16 = a->rq.mult16;
        const int32_t *m32 = a->rq.mult;
        const int8_t *sh = a->rq.shift;
        for (int32_t oc = 0; oc < n_out; oc += 4, sh += 4) {
            const int8_t *xp = x;
            int32_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;
            int32x4_t v;
            if (bits == 4) {
                for (int32_t n = 0; n < full; ++n, xp += 16, wp += 32) {
                    const int8x16_t xv = vld1q_s8(xp);
                    MCF_SUB_MVE_FC_T4(xv, wp);
                }
                if (rest) {     /* the input's tail under a predicate: the weights' padding meets x = 0 */
                    const int8x16_t xv = vld1q_z_s8(xp, p);
                    MCF_SUB_MVE_FC_T4(xv, wp);
                    wp += 32;
                }
                v = vdupq_n_s32(t0 - 16 * t1 - 8 * sx);
                v = vsetq_lane_s32(t1, v, 1);
                v = vsetq_lane_s32(t2 - 16 * t3 - 8 * sx, v, 2);
                v = vsetq_lane_s32(t3, v, 3);
            } else {
                for (int32_t n = 0; n < full; ++n, xp += 16, wp += 16) {
                    const int8x16_t xv = vld1q_s8(xp);
                    MCF_SUB_MVE_FC_T2(xv, wp);
                }
                if (rest) {
                    const int8x16_t xv = vld1q_z_s8(xp, p);
                    MCF_SUB_MVE_FC_T2(xv, wp);
                    wp += 16;
                }
                v = vdupq_n_s32(t0 - 4 * t1 - sx);
                v = vsetq_lane_s32(t1 - 4 * t2 - sx, v, 1);
                v = vsetq_lane_s32(t2 - 4 * t3 - sx, v, 2);
                v = vsetq_lane_s32(t3, v, 3);
            }
            v = mcf_sub_mve_fc_requant(v, b16 + oc, b32 + oc, m16 + oc, m32 + oc, sh, nb, nm, nl);
            v = vaddq_n_s32(v, zp);
            v = vmaxq_s32(v, vdupq_n_s32(lo));
            mcf_mve_store4(o + oc, vminq_s32(v, vdupq_n_s32(hi)), n_out - oc);
        }
    }
}

static inline void mcf_fully_connected_sub_mve(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out,
                                               int32_t bits)
{
    /* three builds: the 16-bit multipliers, int16 / int32 biases and no left shift (every MLPerf
     * layer) without a test in the channel loop; anything else tests per group */
    if (a->rq.mult16 && !(a->mve_mode & 1)) {
        if (a->bias16) {
            mcf_sub_mve_fc_rows(a, in, out, bits, 1, 1, 1);
        } else {
            mcf_sub_mve_fc_rows(a, in, out, bits, 0, 1, 1);
        }
    } else {
        mcf_sub_mve_fc_rows(a, in, out, bits, -1, -1, 0);
    }
}

#endif /* MCF_SUBBYTE_MVE_FC_H */
