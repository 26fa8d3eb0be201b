/*
 * int8 depthwise convolution (any depth multiplier, kernel, stride, dilation, padding) for
 * Cortex-M55 with Helium (MVE).
 *
 * Vectors run over 4 output pixels of a row. For each block of 4 pixels the byte offsets of
 * every tap of the 4 windows are computed once (relative to the input's channel 0) and kept in
 * the scratch buffer; a tap that falls into the padding points at a row of input zero points
 * prepared at compile time (the input zero point is folded into the bias), so padding costs
 * nothing afterwards. Then, channel by channel, one gathering VLDRB.S32 per tap fetches the tap
 * of the four pixels straight from the NHWC input (no plane) and one VMLA multiplies it by the
 * tap's weight as a scalar (two channels per pass share the offset vectors). Requantization with the channel's constants as scalars (VSHL,
 * VQRDMULH, sign fix-up, VRSHL, zero point, clamp) and one scattering VSTRB of the four bytes.
 * Compile-time preparation (variants.py, mve_dw): packed_quant = per output channel
 * {bias', left shift, multiplier, -right shift}, then in_c bytes of the input zero point; the
 * weights are the portable kernel's. Scratch: k_h * k_w offset vectors (16 bytes each).
 * 4 pixels x all channels at a time, so its output must not overlap its input (variants.py marks
 * it in-place unsafe).
 */
#include <arm_mve.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_mve_requant.h"

static inline int32x4_t requant(int32x4_t acc, const int32_t *q, int32_t zp, int32x4_t vlo, int32x4_t vhi)
{
    const int32_t nright = q[3];
    int32x4_t v = vshlq_r_s32(acc, q[1]);
    v = mcf_mve_rq_mul(v, vdupq_n_s32(q[2]));
    if (nright < 0) {
        v = mcf_mve_rq_fix_all(v);
    }
    v = vrshlq_n_s32(v, nright);
    v = vaddq_n_s32(v, zp);
    return vminq_s32(vmaxq_s32(v, vlo), vhi);
}

static void __attribute__((noinline)) block(const int8_t *in_n, const mcf_conv2d_s8_args *a, const uint32x4_t *toff,
                                            int8_t *o, uint32x4_t oofs, mve_pred16_t pl)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c, OC = w->out_c, mult = OC / C, taps = w->k_h * w->k_w;
    const int32_t zp = a->rq.out_zp, lo = a->rq.act_min, hi = a->rq.act_max;
    const int32x4_t vlo = vdupq_n_s32(lo), vhi = vdupq_n_s32(hi);
    const int8_t *wt = a->weights;
    const int32_t *q = a->packed_quant;
    const int8_t *base = in_n;
    int32_t m = 0, oc = 0;
    if (mult == 1 && taps == 9) {
        /* two channels per pass share the offset vectors */
        for (; oc + 2 <= OC; oc += 2, q += 8, o += 2, wt += 18, base += 2) {
            int32x4_t a0 = vdupq_n_s32(q[0]), a1 = vdupq_n_s32(q[4]);
            for (int32_t t = 0; t < 9; ++t) {
                const uint32x4_t off = toff[t];
                a0 = vmlaq_n_s32(a0, vldrbq_gather_offset_s32(base, off), wt[t]);
                a1 = vmlaq_n_s32(a1, vldrbq_gather_offset_s32(base + 1, off), wt[9 + t]);
            }
            vstrbq_scatter_offset_p_s32(o, oofs, requant(a0, q, zp, vlo, vhi), pl);
            vstrbq_scatter_offset_p_s32(o + 1, oofs, requant(a1, q + 4, zp, vlo, vhi), pl);
        }
    }
    for (; oc < OC; ++oc, q += 4, o += 1) {
        int32x4_t acc = vdupq_n_s32(q[0]);
        if (taps == 9) {
            acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(base, toff[0]), wt[0]);
            acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(base, toff[1]), wt[1]);
            acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(base, toff[2]), wt[2]);
            acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(base, toff[3]), wt[3]);
            acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(base, toff[4]), wt[4]);
            acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(base, toff[5]), wt[5]);
            acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(base, toff[6]), wt[6]);
            acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(base, toff[7]), wt[7]);
            acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(base, toff[8]), wt[8]);
            wt += 9;
        } else {
            for (int32_t t = 0; t < taps; ++t) {
                acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(base, toff[t]), *wt++);
            }
        }
        const int32x4_t v = requant(acc, q, zp, vlo, vhi);
        vstrbq_scatter_offset_p_s32(o, oofs, v, pl);
        if (++m == mult) {
            m = 0;
            ++base;
        }
    }
}

void mcf_depthwise_conv2d_s8_mve(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c, OC = w->out_c;
    const int32_t s = w->stride_w, kh = w->k_h, kw = w->k_w;
    const int8_t *zp_row = (const int8_t *)(a->packed_quant + 4 * OC);   /* in_c bytes of in_zp */
    uint32x4_t *toff = (uint32x4_t *)(((uintptr_t)a->scratch + 15u) & ~(uintptr_t)15u);
    const uint32x4_t lane = vidupq_n_u32(0u, 1);
    const uint32x4_t oofs = vmulq_n_u32(lane, (uint32_t)OC);
    const int32x4_t lane_x = vmulq_n_s32(vreinterpretq_s32_u32(lane), s);
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * C;
        int8_t *out_n = out + (size_t)n * w->out_h * w->out_w * OC;
        /* a tap in the padding reads zp_row + ic = in_n + ic + (zp_row - in_n) */
        const uint32x4_t to_zp = vdupq_n_u32((uint32_t)(zp_row - in_n));
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const int32_t iy0 = oy * w->stride_h - w->pad_top;
            for (int32_t ox = 0; ox < w->out_w; ox += 4) {
                const int32_t nl = MCF_MIN(4, w->out_w - ox);
                const int32x4_t xs = vaddq_n_s32(lane_x, ox * s - w->pad_left);
                uint32x4_t *t = toff;
                for (int32_t ky = 0; ky < kh; ++ky) {
                    const int32_t iy = iy0 + ky * w->dil_h;
                    const int yin = iy >= 0 && iy < w->in_h;
                    for (int32_t kx = 0; kx < kw; ++kx, ++t) {
                        const int32x4_t ix = vaddq_n_s32(xs, kx * w->dil_w);
                        /* lanes past the end of the row are not stored; they read the padding */
                        mve_pred16_t p = vcmpgeq_n_s32(ix, 0) & vcmpltq_n_s32(ix, w->in_w);
                        if (!yin) {
                            p = 0;
                        }
                        const int32x4_t off = vmulq_n_s32(vaddq_n_s32(ix, iy * w->in_w), C);
                        *t = vpselq_u32(vreinterpretq_u32_s32(off), to_zp, p);
                    }
                }
                block(in_n, a, toff, out_n + ((size_t)oy * w->out_w + ox) * OC, oofs, vctp32q((uint32_t)nl));
            }
        }
    }
}
