/*
 * int8 fully connected layer for Cortex-M55 with Helium (MVE).
 *
 * Four output channels at a time: per 16 inputs one VLDRB of the input row, four of the weight
 * rows and four VMLADAVA (64 MACs in 9 instructions), the tail of K under a VCTP predicate.
 * Requantization on the vector of the four accumulators as in mcf_conv2d_s8_mve.c, one VSTRB
 * of the four bytes (predicated for the last group when out_features % 4 != 0; the missing
 * channels of that group re-read the group's first weight row and are not stored).
 * Compile-time preparation (variants.py, mve_fc): packed_quant = folded biases (out_features
 * rounded up to 4), then per group of 4 channels 16 words: left shifts, multipliers, fix-up masks,
 * negated right shifts. The weights are the portable kernel's ([out][K] int8).
 */
#include <arm_mve.h>

#include "mcf_kernels.h"

static inline int32x4_t requant(int32x4_t v, const int32_t *q, int32_t out_zp, int32_t lo, int32_t hi)
{
    v = vshlq_s32(v, vld1q_s32(q));
    v = vqrdmulhq_s32(v, vld1q_s32(q + 4));
    v = vqaddq_s32(v, vandq_s32(vshrq_n_s32(v, 31), vld1q_s32(q + 8)));
    v = vrshlq_s32(v, vld1q_s32(q + 12));
    v = vaddq_n_s32(v, out_zp);
    v = vmaxq_s32(v, vdupq_n_s32(lo));
    return vminq_s32(v, vdupq_n_s32(hi));
}

void mcf_fully_connected_s8_mve(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out)
{
    const int32_t k = a->in_features, n_out = a->out_features;
    const int32_t n4 = (n_out + 3) & ~3;
    const int32_t *bias = a->packed_quant;
    const int32_t zp = a->rq.out_zp, lo = a->rq.act_min, hi = a->rq.act_max;
    for (int32_t r = 0; r < a->rows; ++r) {
        const int8_t *x = in + (size_t)r * k;
        int8_t *o = out + (size_t)r * n_out;
        const int32_t *q = bias + n4;
        for (int32_t oc = 0; oc < n_out; oc += 4, q += 16) {
            const int32_t left = n_out - oc;
            const int8_t *w0 = a->weights + (size_t)oc * k;
            const int8_t *w1 = left > 1 ? w0 + k : w0;
            const int8_t *w2 = left > 2 ? w0 + 2 * k : w0;
            const int8_t *w3 = left > 3 ? w0 + 3 * k : w0;
            const int8_t *xp = x;
            int32_t a0 = bias[oc], a1 = bias[oc + 1], a2 = bias[oc + 2], a3 = bias[oc + 3];
            int32_t n = k;
            for (; n >= 16; n -= 16, xp += 16, w0 += 16, w1 += 16, w2 += 16, w3 += 16) {
                const int8x16_t xv = vld1q_s8(xp);
                a0 = vmladavaq_s8(a0, xv, vld1q_s8(w0));
                a1 = vmladavaq_s8(a1, xv, vld1q_s8(w1));
                a2 = vmladavaq_s8(a2, xv, vld1q_s8(w2));
                a3 = vmladavaq_s8(a3, xv, vld1q_s8(w3));
            }
            if (n > 0) {
                const mve_pred16_t p = vctp8q((uint32_t)n);
                const int8x16_t xv = vld1q_z_s8(xp, p);
                a0 = vmladavaq_s8(a0, xv, vld1q_z_s8(w0, p));
                a1 = vmladavaq_s8(a1, xv, vld1q_z_s8(w1, p));
                a2 = vmladavaq_s8(a2, xv, vld1q_z_s8(w2, p));
                a3 = vmladavaq_s8(a3, xv, vld1q_z_s8(w3, p));
            }
            int32x4_t v = vdupq_n_s32(a0);
            v = vsetq_lane_s32(a1, v, 1);
            v = vsetq_lane_s32(a2, v, 2);
            v = vsetq_lane_s32(a3, v, 3);
            v = requant(v, q, zp, lo, hi);
            if (left >= 4) {
                vstrbq_s32(o + oc, v);
            } else {
                vstrbq_p_s32(o + oc, v, vctp32q((uint32_t)left));
            }
        }
    }
}
