/*
 * int8 2-D convolution (groups == 1) for Cortex-M55 with Helium (MVE).
 *
 * The patch of an output pixel is gathered as raw int8 (padding = the input zero point, which is
 * folded into the bias at compile time).
 * The matrix kernel takes 4 output channels x 2 output pixels: six VLDRB and eight VMLADAVA per
 * 16 values of K (128 MACs), the tail of K under a VCTP predicate. Requantization runs on a vector
 * of the four channels of a pixel: VSHL, VQRDMULH (TFLite's saturating rounding doubling high
 * multiply), a sign fix-up and VRSHL (rounding divide by a power of two, half away from zero),
 * zero point, activation clamp, and one store of the four bytes.
 * Compile-time preparation (variants.py, mve_quant4): packed_quant = folded biases (out_c rounded
 * up to 4), then per group of 4 channels 16 words: left shifts, multipliers, fix-up masks, negated
 * right shifts. packed_weights: int8 [out_c / 4][K16 / 16][4 channels][16] (K16 = K rounded up to
 * 16, channels rounded up to 4, zero padded).
 * Scratch: two gathered patches of K bytes each (16-byte aligned).
 */
#include <arm_mve.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"

static void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    while (n > 0) {
        const mve_pred16_t p = vctp8q((uint32_t)n);
        vstrbq_p_s8(dst, vld1q_z_s8(src, p), p);
        dst += 16;
        src += 16;
        n -= 16;
    }
}

static void fill_bytes(int8_t *dst, int8_t v, int32_t n)
{
    const int8x16_t x = vdupq_n_s8(v);
    while (n > 0) {
        const mve_pred16_t p = vctp8q((uint32_t)n);
        vstrbq_p_s8(dst, x, p);
        dst += 16;
        n -= 16;
    }
}

/* The patch of output pixel (oy, ox), gathered into col. */
static const int8_t *patch(const mcf_conv2d_s8_args *a, const int8_t *in_n, int32_t oy, int32_t ox, int8_t *col)
{
    const mcf_window *w = &a->win;
    const int32_t iy0 = oy * w->stride_h - w->pad_top;
    const int32_t ix0 = ox * w->stride_w - w->pad_left;
    const int32_t c = w->in_c;
    /* always a copy, also for 1x1: the output may overlap the input in the arena (in-place
     * planning), and the two pixels' outputs are written while both patches are still read */
    int8_t *dst = col;
    for (int32_t ky = 0; ky < w->k_h; ++ky) {
        const int32_t iy = iy0 + ky * w->dil_h;
        if (w->dil_w == 1 && iy >= 0 && iy < w->in_h && ix0 >= 0 && ix0 + w->k_w <= w->in_w) {
            copy_bytes(dst, in_n + ((size_t)iy * w->in_w + ix0) * c, w->k_w * c);
            dst += w->k_w * c;
            continue;
        }
        for (int32_t kx = 0; kx < w->k_w; ++kx, dst += c) {
            const int32_t ix = ix0 + kx * w->dil_w;
            if (iy >= 0 && iy < w->in_h && ix >= 0 && ix < w->in_w) {
                copy_bytes(dst, in_n + ((size_t)iy * w->in_w + ix) * c, c);
            } else {
                fill_bytes(dst, (int8_t)a->rq.in_zp, c);
            }
        }
    }
    return col;
}

/* Requantize 4 channels of one pixel (constants of the channel group at q). */
static inline int32x4_t requant(int32x4_t v, const int32_t *q, int32_t out_zp, int32x4_t vlo, int32x4_t vhi)
{
    v = vshlq_s32(v, vld1q_s32(q));
    v = vqrdmulhq_s32(v, vld1q_s32(q + 4));
    v = vqaddq_s32(v, vandq_s32(vshrq_n_s32(v, 31), vld1q_s32(q + 8)));
    v = vrshlq_s32(v, vld1q_s32(q + 12));
    v = vaddq_n_s32(v, out_zp);
    return vminq_s32(vmaxq_s32(v, vlo), vhi);
}

static inline int32x4_t lanes4(int32_t a0, int32_t a1, int32_t a2, int32_t a3)
{
    int32x4_t v = vdupq_n_s32(a0);
    v = vsetq_lane_s32(a1, v, 1);
    v = vsetq_lane_s32(a2, v, 2);
    return vsetq_lane_s32(a3, v, 3);
}

/* All output channels of two pixels (x1 == x0 and out1 == out0 for a single pixel): blocks of
 * 4 channels x 2 pixels, per 16 values of K two input and four weight loads (one pointer through
 * the interleaved weights) and eight VMLADAVA: 128 MACs in 14 instructions. K is padded to 16
 * with zero weights (the patches' padding bytes are multiplied by 0); a last group of fewer than
 * 4 channels has zero weights for the missing ones and stores under a predicate. */
static void __attribute__((noinline)) gemm(const mcf_conv2d_s8_args *a, int32_t kb, const int8_t *x0,
                                           const int8_t *x1, int8_t *out0, int8_t *out1)
{
    const int32_t oc_n = a->win.out_c;
    const int32_t n4 = (oc_n + 3) & ~3;
    const int32_t out_zp = a->rq.out_zp;
    const int32x4_t vlo = vdupq_n_s32(a->rq.act_min), vhi = vdupq_n_s32(a->rq.act_max);
    const int32_t *bias = a->packed_quant;
    const int32_t *q = bias + n4;
    const int8_t *wp = (const int8_t *)a->packed_weights;
    for (int32_t oc = 0; oc < oc_n; oc += 4, q += 16) {
        const int8_t *p0 = x0, *p1 = x1;
        int32_t a00 = bias[oc], a10 = bias[oc + 1], a20 = bias[oc + 2], a30 = bias[oc + 3];
        int32_t a01 = a00, a11 = a10, a21 = a20, a31 = a30;
        for (int32_t n = kb; n > 0; --n, p0 += 16, p1 += 16, wp += 64) {
            const int8x16_t v0 = vld1q_s8(p0), v1 = vld1q_s8(p1);
            int8x16_t wv = vld1q_s8(wp);
            a00 = vmladavaq_s8(a00, v0, wv);
            a01 = vmladavaq_s8(a01, v1, wv);
            wv = vld1q_s8(wp + 16);
            a10 = vmladavaq_s8(a10, v0, wv);
            a11 = vmladavaq_s8(a11, v1, wv);
            wv = vld1q_s8(wp + 32);
            a20 = vmladavaq_s8(a20, v0, wv);
            a21 = vmladavaq_s8(a21, v1, wv);
            wv = vld1q_s8(wp + 48);
            a30 = vmladavaq_s8(a30, v0, wv);
            a31 = vmladavaq_s8(a31, v1, wv);
        }
        const int32x4_t y0 = requant(lanes4(a00, a10, a20, a30), q, out_zp, vlo, vhi);
        const int32x4_t y1 = requant(lanes4(a01, a11, a21, a31), q, out_zp, vlo, vhi);
        const int32_t left = oc_n - oc;
        if (left >= 4) {
            vstrbq_s32(out0 + oc, y0);
            vstrbq_s32(out1 + oc, y1);
        } else {
            const mve_pred16_t p = vctp32q((uint32_t)left);
            vstrbq_p_s32(out0 + oc, y0, p);
            vstrbq_p_s32(out1 + oc, y1, p);
        }
    }
}

void mcf_conv2d_s8_mve(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t k = w->k_h * w->k_w * w->in_c;
    const int32_t kpad = (k + 15) & ~15;
    int8_t *col0 = (int8_t *)(((uintptr_t)a->scratch + 15u) & ~(uintptr_t)15u);
    int8_t *col1 = col0 + kpad;
    const int32_t npix = w->out_h * w->out_w;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        int8_t *out_n = out + (size_t)n * npix * w->out_c;
        int32_t oy = 0, ox = 0;
        for (int32_t p = 0; p < npix; p += 2) {
            const int8_t *x0 = patch(a, in_n, oy, ox, col0);
            const int8_t *x1 = x0;
            int8_t *o0 = out_n + (size_t)p * w->out_c, *o1 = o0;
            if (++ox == w->out_w) {
                ox = 0;
                ++oy;
            }
            if (p + 1 < npix) {
                x1 = patch(a, in_n, oy, ox, col1);
                o1 = o0 + w->out_c;
                if (++ox == w->out_w) {
                    ox = 0;
                    ++oy;
                }
            }
            gemm(a, kpad >> 4, x0, x1, o0, o1);
        }
    }
}
