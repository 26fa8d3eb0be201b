/*
 * int8 2-D convolution (groups == 1) for Cortex-M55 with Helium (MVE).
 *
 * The patch of an output pixel is gathered as raw int8 (padding = the input zero point, which is
 * folded into the bias at compile time).
 * The matrix kernel takes 2 output channels x 2 output pixels: four VLDRB and four VMLADAVA per 16
 * values of K (64 MACs), the tail of K under a VCTP predicate. Requantization runs on a vector of
 * the four accumulators: VSHL, VQRDMULH (TFLite's saturating rounding doubling high multiply),
 * a sign fix-up and VRSHL (rounding divide by a power of two, half away from zero), zero point,
 * activation clamp, and one scatter store of the four bytes.
 * Compile-time preparation (variants.py, mve_quant): packed_quant = out_c folded biases, then per
 * channel pair 16 words: left shifts, multipliers, fix-up masks, negated right shifts, each for
 * the lanes (c0, c1, c0, c1). The weights are the portable kernel's ([out_c][K] int8).
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

/* Requantize lanes (px0 c0, px0 c1, px1 c0, px1 c1) and store them at out + offs. */
static inline void requant_store(int32x4_t v, const int32_t *qp, int32_t out_zp, int32_t lo, int32_t hi,
                                 int8_t *out, uint32x4_t offs)
{
    v = vshlq_s32(v, vld1q_s32(qp));
    v = vqrdmulhq_s32(v, vld1q_s32(qp + 4));
    v = vqaddq_s32(v, vandq_s32(vshrq_n_s32(v, 31), vld1q_s32(qp + 8)));
    v = vrshlq_s32(v, vld1q_s32(qp + 12));
    v = vaddq_n_s32(v, out_zp);
    v = vmaxq_s32(v, vdupq_n_s32(lo));
    v = vminq_s32(v, vdupq_n_s32(hi));
    vstrbq_scatter_offset_s32(out, offs, v);
}

static void gemm(const mcf_conv2d_s8_args *a, int32_t k, const int8_t *x0, const int8_t *x1, int8_t *out0,
                 int8_t *out1)
{
    const int32_t oc_n = a->win.out_c;
    const int32_t lo = a->rq.act_min, hi = a->rq.act_max, out_zp = a->rq.out_zp;
    const int32_t *bias = a->packed_quant;
    const int32_t *qp = bias + oc_n;
    const int8_t *wt = a->weights;
    const int32_t d = (int32_t)(out1 - out0);
    const uint32x4_t offs = vsetq_lane_u32((uint32_t)d + 1u, vsetq_lane_u32((uint32_t)d, vsetq_lane_u32(1u, vdupq_n_u32(0u), 1), 2), 3);
    int32_t oc = 0;
    for (; oc + 2 <= oc_n; oc += 2, qp += 16, wt += 2 * k) {
        int32_t a00 = bias[oc], a01 = bias[oc], a10 = bias[oc + 1], a11 = bias[oc + 1];
        const int8_t *w0 = wt, *w1 = wt + k, *p0 = x0, *p1 = x1;
        int32_t n = k;
        for (; n >= 16; n -= 16, w0 += 16, w1 += 16, p0 += 16, p1 += 16) {
            const int8x16_t vx0 = vld1q_s8(p0), vx1 = vld1q_s8(p1);
            const int8x16_t vw0 = vld1q_s8(w0), vw1 = vld1q_s8(w1);
            a00 = vmladavaq_s8(a00, vx0, vw0);
            a01 = vmladavaq_s8(a01, vx1, vw0);
            a10 = vmladavaq_s8(a10, vx0, vw1);
            a11 = vmladavaq_s8(a11, vx1, vw1);
        }
        if (n > 0) {
            const mve_pred16_t p = vctp8q((uint32_t)n);
            const int8x16_t vx0 = vld1q_z_s8(p0, p), vx1 = vld1q_z_s8(p1, p);
            const int8x16_t vw0 = vld1q_z_s8(w0, p), vw1 = vld1q_z_s8(w1, p);
            a00 = vmladavaq_s8(a00, vx0, vw0);
            a01 = vmladavaq_s8(a01, vx1, vw0);
            a10 = vmladavaq_s8(a10, vx0, vw1);
            a11 = vmladavaq_s8(a11, vx1, vw1);
        }
        int32x4_t v = vdupq_n_s32(a00);
        v = vsetq_lane_s32(a10, v, 1);
        v = vsetq_lane_s32(a01, v, 2);
        v = vsetq_lane_s32(a11, v, 3);
        requant_store(v, qp, out_zp, lo, hi, out0 + oc, offs);
    }
    if (oc < oc_n) {
        /* odd last channel: scalar dot products, the portable requantization */
        int32_t a00 = bias[oc], a01 = bias[oc];
        const int8_t *w0 = wt, *p0 = x0, *p1 = x1;
        for (int32_t n = k; n > 0; n -= 16, w0 += 16, p0 += 16, p1 += 16) {
            const mve_pred16_t p = vctp8q((uint32_t)n);
            const int8x16_t vw0 = vld1q_z_s8(w0, p);
            a00 = vmladavaq_s8(a00, vld1q_z_s8(p0, p), vw0);
            a01 = vmladavaq_s8(a01, vld1q_z_s8(p1, p), vw0);
        }
        const int32_t m = a->rq.mult[oc], sh = a->rq.shift[oc];
        out0[oc] = mcf_sat_s8(mcf_requantize(a00, m, sh) + out_zp, lo, hi);
        if (out1 != out0) {
            out1[oc] = mcf_sat_s8(mcf_requantize(a01, m, sh) + out_zp, lo, hi);
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
            gemm(a, k, x0, x1, o0, o1);
        }
    }
}
