/*
 * int8 fully connected layer for Cortex-M55 with Helium (MVE).
 *
 * Four output channels at a time: per 16 inputs one VLDRB of the input row, four of the weight
 * rows and four VMLADAVA (64 MACs in 9 instructions, 10 with the loop), the tail of K under a
 * VCTP predicate. The weights are reordered at compile time so that one pointer walks them
 * (the rows read through four pointers cost GCC a subtraction per load and a spilled pointer
 * set per group: ad_fcae ran 107 k instructions, 0.44 per MAC on its 128-input layers).
 * Requantization on the vector of the four accumulators as in mcf_conv2d_s8_mve.c, one VSTRB
 * of the four bytes (predicated for the last group when out_features % 4 != 0; the missing
 * channels of that group have zero weights and are not stored).
 * Compile-time preparation (variants.py, mve_fc): packed_quant = folded biases (out_features
 * rounded up to 4), then per group of 4 channels 16 words: left shifts, multipliers, fix-up masks,
 * negated right shifts. packed_weights: [C4 / 4][K16 / 16][4 channels][16] int8, zero padded
 * (C4, K16: out_features, in_features rounded up to 4, 16), as mcf_conv2d_s8_mve's.
 */
#include <arm_mve.h>

#include "mcf_kernels.h"
#include "mcf_mve_requant.h"

void mcf_fully_connected_s8_mve(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out)
{
    const int32_t k = a->in_features, n_out = a->out_features;
    const int32_t n4 = (n_out + 3) & ~3, full = k >> 4, rest = k & 15;
    const int32_t *bias = a->packed_quant;
    const int32_t zp = a->rq.out_zp, lo = a->rq.act_min, hi = a->rq.act_max;
    const mve_pred16_t p = vctp8q((uint32_t)rest);
    for (int32_t r = 0; r < a->rows; ++r) {
        const int8_t *x = in + (size_t)r * k;
        int8_t *o = out + (size_t)r * n_out;
        const int32_t *q = bias + n4;
        const int8_t *wp = (const int8_t *)a->packed_weights;
        for (int32_t oc = 0; oc < n_out; oc += 4, q += 16) {
            const int8_t *xp = x;
            int32_t a0 = bias[oc], a1 = bias[oc + 1], a2 = bias[oc + 2], a3 = bias[oc + 3];
            for (int32_t n = 0; n < full; ++n, xp += 16, wp += 64) {
                const int8x16_t xv = vld1q_s8(xp);
                a0 = vmladavaq_s8(a0, xv, vld1q_s8(wp));
                a1 = vmladavaq_s8(a1, xv, vld1q_s8(wp + 16));
                a2 = vmladavaq_s8(a2, xv, vld1q_s8(wp + 32));
                a3 = vmladavaq_s8(a3, xv, vld1q_s8(wp + 48));
            }
            if (rest) {     /* the input's tail under a predicate; the weights are zero padded */
                const int8x16_t xv = vld1q_z_s8(xp, p);
                a0 = vmladavaq_s8(a0, xv, vld1q_s8(wp));
                a1 = vmladavaq_s8(a1, xv, vld1q_s8(wp + 16));
                a2 = vmladavaq_s8(a2, xv, vld1q_s8(wp + 32));
                a3 = vmladavaq_s8(a3, xv, vld1q_s8(wp + 48));
                wp += 64;
            }
            int32x4_t v = vdupq_n_s32(a0);
            v = vsetq_lane_s32(a1, v, 1);
            v = vsetq_lane_s32(a2, v, 2);
            v = vsetq_lane_s32(a3, v, 3);
            mcf_mve_store4(o + oc, mcf_mve_requant4(v, q, zp, lo, hi), n_out - oc);
        }
    }
}
