/*
 * int8 depthwise convolution of a one-channel input (in_c == 1, depth multiplier = out_c: a
 * first-layer convolution of a mono image or spectrogram, e.g. kws_dscnn's 10x4 one) for
 * Cortex-M55 with Helium (MVE). Any kernel, stride, dilation, padding.
 *
 * Method: every output channel multiplies the same input value, so the output channels go in
 * vector lanes and the input value is the scalar of VMLA (vector by scalar, one instruction per
 * 4 MACs; no gathers). Per output pixel the window's input values are copied once into the
 * scratch (the input zero point where the window is in the padding: it is folded into the bias);
 * then per pass of 16 output channels (4 accumulators) and tap: one scalar load, four widening
 * weight loads and four VMLA; the last pass takes the remaining groups of 4 channels one at a
 * time, the very last tail predicated. Requantization on 4 channels (VSHL, VQRDMULH, sign
 * fix-up, VRSHL: TFLite's rounding; zero point, clamp) and one narrowing VSTRB.32.
 * Compile-time preparation (variants/mve.py, _mve_dw1_prepare): packed_weights int8
 * [taps][C4] (C4 = out_c rounded up to 4, zero padded); packed_quant: a mode word (1: some
 * channel shifts left, 2: some channel has no right shift), 3 padding words, then mve_quant4.
 * Scratch: the window (k_h * k_w bytes).
 * A pixel's window is copied before its outputs are stored, but the outputs (out_c bytes per
 * pixel) run ahead of the input (1 byte per pixel), so the output must not overlap the input
 * (the variant marks itself in-place unsafe).
 */
#include <arm_mve.h>

#include "mcf_kernels.h"
#include "mcf_mve_requant.h"

static inline __attribute__((always_inline)) int32x4_t rq(int32x4_t v, const int32_t *q, int32_t mode, int32_t zp,
                                                          int32x4_t vlo, int32x4_t vhi)
{
    if (mode & 1) {
        v = vshlq_s32(v, vldrwq_s32(q));
    }
    v = mcf_mve_rq_mul(v, vldrwq_s32(q + 4));
    if (mode & 2) {
        v = mcf_mve_rq_fix(v, vldrwq_s32(q + 8));
    } else {
        v = mcf_mve_rq_fix_all(v);
    }
    v = vrshlq_s32(v, vldrwq_s32(q + 12));
    return vminq_s32(vmaxq_s32(vaddq_n_s32(v, zp), vlo), vhi);
}

static inline __attribute__((always_inline)) void pixel(const int8_t *x, int32_t taps, const int8_t *wt, int32_t c4,
                                                        int32_t OC, const int32_t *bias, const int32_t *q,
                                                        int32_t mode, int32_t zp, int32x4_t vlo, int32x4_t vhi,
                                                        int8_t *o)
{
    int32_t c = 0;
    for (; c + 16 <= OC; c += 16) {
        int32x4_t a0 = vldrwq_s32(bias + c), a1 = vldrwq_s32(bias + c + 4);
        int32x4_t a2 = vldrwq_s32(bias + c + 8), a3 = vldrwq_s32(bias + c + 12);
        const int8_t *w = wt + c;
        for (int32_t t = 0; t < taps; ++t, w += c4) {
            const int32_t v = x[t];
            a0 = vmlaq_n_s32(a0, vldrbq_s32(w), v);
            a1 = vmlaq_n_s32(a1, vldrbq_s32(w + 4), v);
            a2 = vmlaq_n_s32(a2, vldrbq_s32(w + 8), v);
            a3 = vmlaq_n_s32(a3, vldrbq_s32(w + 12), v);
        }
        const int32_t *qc = q + 4 * c;
        vstrbq_s32(o + c, rq(a0, qc, mode, zp, vlo, vhi));
        vstrbq_s32(o + c + 4, rq(a1, qc + 16, mode, zp, vlo, vhi));
        vstrbq_s32(o + c + 8, rq(a2, qc + 32, mode, zp, vlo, vhi));
        vstrbq_s32(o + c + 12, rq(a3, qc + 48, mode, zp, vlo, vhi));
    }
    for (; c < OC; c += 4) {
        int32x4_t a0 = vldrwq_s32(bias + c);
        const int8_t *w = wt + c;
        for (int32_t t = 0; t < taps; ++t, w += c4) {
            a0 = vmlaq_n_s32(a0, vldrbq_s32(w), x[t]);
        }
        vstrbq_p_s32(o + c, rq(a0, q + 4 * c, mode, zp, vlo, vhi), vctp32q((uint32_t)(OC - c)));
    }
}

/* one build per requantization mode, so that its tests leave the channel loop */
#define PIXEL(name, mode)                                                                                    \
    static void __attribute__((noinline)) name(const int8_t *x, int32_t taps, const int8_t *wt, int32_t c4, \
                                               int32_t OC, const int32_t *bias, const int32_t *q, int32_t zp, \
                                               int32_t lo, int32_t hi, int8_t *o)                             \
    {                                                                                                        \
        pixel(x, taps, wt, c4, OC, bias, q, mode, zp, vdupq_n_s32(lo), vdupq_n_s32(hi), o);                  \
    }
PIXEL(pixel_0, 0)
PIXEL(pixel_1, 1)
PIXEL(pixel_2, 2)
PIXEL(pixel_3, 3)
#undef PIXEL

void mcf_depthwise_conv2d_s8_mve1(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t OC = w->out_c, c4 = (OC + 3) & ~3, taps = w->k_h * w->k_w;
    const int32_t mode = a->packed_quant[0];
    const int32_t *bias = a->packed_quant + 4, *q = bias + c4;
    const int8_t *wt = (const int8_t *)a->packed_weights;
    const int8_t izp = (int8_t)a->rq.in_zp;
    void (*const px)(const int8_t *, int32_t, const int8_t *, int32_t, int32_t, const int32_t *, const int32_t *,
                     int32_t, int32_t, int32_t, int8_t *) =
        mode == 0 ? pixel_0 : mode == 1 ? pixel_1 : mode == 2 ? pixel_2 : pixel_3;
    int8_t *x = (int8_t *)a->scratch;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w;
        int8_t *o = out + (size_t)n * w->out_h * w->out_w * OC;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const int32_t iy0 = oy * w->stride_h - w->pad_top;
            for (int32_t ox = 0; ox < w->out_w; ++ox, o += OC) {
                const int32_t ix0 = ox * w->stride_w - w->pad_left;
                int8_t *t = x;
                for (int32_t ky = 0; ky < w->k_h; ++ky) {
                    const int32_t iy = iy0 + ky * w->dil_h;
                    const int yin = iy >= 0 && iy < w->in_h;
                    for (int32_t kx = 0; kx < w->k_w; ++kx) {
                        const int32_t ix = ix0 + kx * w->dil_w;
                        *t++ = (yin && ix >= 0 && ix < w->in_w) ? in_n[iy * w->in_w + ix] : izp;
                    }
                }
                px(x, taps, wt, c4, OC, bias, q, a->rq.out_zp, a->rq.act_min, a->rq.act_max, o);
            }
        }
    }
}
