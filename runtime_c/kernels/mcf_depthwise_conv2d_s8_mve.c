/*
 * int8 depthwise convolution (depth multiplier 1, any kernel, stride, dilation, padding) for
 * Cortex-M55 with Helium (MVE).
 *
 * Vectors run over 4 channels of NHWC bytes directly (VLDRB.S32 widens 4 input bytes to 4 int32
 * lanes; no plane fill): a block is 4 output pixels of a row x 4 channels, one multiply-add per tap
 * and pixel (VMUL + VADD), the weight vector of a tap loaded once for the 4 pixels. For 3-wide kernels with stride
 * 1 the input vectors of a kernel row are shared by the pixels (6 loads for 12 multiply-adds).
 * Taps in the padding multiply the zero point (the input zero point is folded into the bias at
 * compile time); border pixels take a per-pixel path. Requantization on vectors as in
 * mcf_conv2d_s8_mve.c. The channel tail (C % 4) runs under a VCTP predicate.
 * Compile-time preparation (variants.py, mve_dw): packed_weights = int8 [k_h * k_w][C4] (C4 = C
 * rounded up to 4, zero padded); packed_quant = C4 folded biases, then per group of 4 channels
 * 16 words: left shifts, multipliers, fix-up masks, negated right shifts.
 * It computes 4 pixels x 4 channels at a time, so its output must not overlap its input (the
 * in-place planner assumes pixel order): variants.py marks it in-place unsafe.
 */
#include <arm_mve.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"

typedef struct {
    int32x4_t left, mult, mask, nright;
} rq4;

static inline rq4 load_rq(const int32_t *q)
{
    rq4 r;
    r.left = vld1q_s32(q);
    r.mult = vld1q_s32(q + 4);
    r.mask = vld1q_s32(q + 8);
    r.nright = vld1q_s32(q + 12);
    return r;
}

static inline int32x4_t requant(int32x4_t v, rq4 r, int32_t out_zp, int32_t lo, int32_t hi)
{
    v = vshlq_s32(v, r.left);
    v = vqrdmulhq_s32(v, r.mult);
    v = vqaddq_s32(v, vandq_s32(vshrq_n_s32(v, 31), r.mask));
    v = vrshlq_s32(v, r.nright);
    v = vaddq_n_s32(v, out_zp);
    v = vmaxq_s32(v, vdupq_n_s32(lo));
    return vminq_s32(v, vdupq_n_s32(hi));
}

static inline void store4(int8_t *o, int32x4_t v, const int tail, mve_pred16_t p)
{
    if (tail) {
        vstrbq_p_s32(o, v, p);
    } else {
        vstrbq_s32(o, v);
    }
}

/* Helium has no lane-wise integer multiply-accumulate of two vectors (VMLA takes a scalar): VMUL + VADD. */
static inline int32x4_t mla(int32x4_t acc, int32x4_t x, int32x4_t w)
{
    return vaddq_s32(acc, vmulq_s32(x, w));
}

static inline int32x4_t ld4(const int8_t *x, const int tail, mve_pred16_t p)
{
    return tail ? vldrbq_z_s32(x, p) : vldrbq_s32(x);
}

/* One output pixel (any position), channels [c, c + 4). */
static inline __attribute__((always_inline)) void pixel(const mcf_conv2d_s8_args *a, const int8_t *in_n, int32_t oy,
                                                        int32_t ox, int32_t c, int32_t c4, int8_t *o,
                                                        const int tail, mve_pred16_t p)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c;
    const int32_t iy0 = oy * w->stride_h - w->pad_top, ix0 = ox * w->stride_w - w->pad_left;
    const int8_t *wt = (const int8_t *)a->packed_weights + c;
    const int32_t *q = a->packed_quant;
    const int32x4_t zpv = vdupq_n_s32(a->rq.in_zp);
    int32x4_t acc = vld1q_s32(q + c);
    for (int32_t ky = 0; ky < w->k_h; ++ky) {
        const int32_t iy = iy0 + ky * w->dil_h;
        const int yin = iy >= 0 && iy < w->in_h;
        for (int32_t kx = 0; kx < w->k_w; ++kx, wt += c4) {
            const int32_t ix = ix0 + kx * w->dil_w;
            const int32x4_t wv = vldrbq_s32(wt);
            int32x4_t xv = zpv;
            if (yin && ix >= 0 && ix < w->in_w) {
                xv = ld4(in_n + ((size_t)iy * w->in_w + ix) * C + c, tail, p);
            }
            acc = mla(acc, xv, wv);
        }
    }
    const rq4 r = load_rq(q + c4 + 4 * c);
    store4(o, requant(acc, r, a->rq.out_zp, a->rq.act_min, a->rq.act_max), tail, p);
}

/* Four pixels ox .. ox + 3 of row oy, all inside the input in x; channels [c, c + 4). */
static inline __attribute__((always_inline)) void block4(const mcf_conv2d_s8_args *a, const int8_t *in_n, int32_t oy,
                                                         int32_t ox, int32_t c, int32_t c4, int8_t *o,
                                                         const int tail, mve_pred16_t p)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c;
    const int32_t iy0 = oy * w->stride_h - w->pad_top, ix0 = ox * w->stride_w - w->pad_left;
    const int8_t *wt = (const int8_t *)a->packed_weights + c;
    const int32_t *q = a->packed_quant;
    const int32_t ps = w->stride_w * C;      /* bytes between the pixels' windows */
    const int32_t ts = w->dil_w * C;         /* bytes between the taps of a kernel row */
    int32x4_t init = vld1q_s32(q + c);
    int32x4_t a0, a1, a2, a3;
    /* kernel rows in the padding: zero point times the weights, the same for the 4 pixels */
    for (int32_t ky = 0; ky < w->k_h; ++ky) {
        const int32_t iy = iy0 + ky * w->dil_h;
        if (iy < 0 || iy >= w->in_h) {
            const int32x4_t zpv = vdupq_n_s32(a->rq.in_zp);
            for (int32_t kx = 0; kx < w->k_w; ++kx) {
                init = mla(init, zpv, vldrbq_s32(wt + (ky * w->k_w + kx) * c4));
            }
        }
    }
    a0 = a1 = a2 = a3 = init;
    const int fast3 = w->k_w == 3 && w->stride_w == 1 && w->dil_w == 1;
    for (int32_t ky = 0; ky < w->k_h; ++ky, wt += w->k_w * c4) {
        const int32_t iy = iy0 + ky * w->dil_h;
        if (iy < 0 || iy >= w->in_h) {
            continue;
        }
        const int8_t *x = in_n + ((size_t)iy * w->in_w + ix0) * C + c;
        if (fast3) {
            const int32x4_t w0 = vldrbq_s32(wt), w1 = vldrbq_s32(wt + c4), w2 = vldrbq_s32(wt + 2 * c4);
            int32x4_t xv = ld4(x, tail, p);
            a0 = mla(a0, xv, w0);
            xv = ld4(x + C, tail, p);
            a0 = mla(a0, xv, w1);
            a1 = mla(a1, xv, w0);
            xv = ld4(x + 2 * C, tail, p);
            a0 = mla(a0, xv, w2);
            a1 = mla(a1, xv, w1);
            a2 = mla(a2, xv, w0);
            xv = ld4(x + 3 * C, tail, p);
            a1 = mla(a1, xv, w2);
            a2 = mla(a2, xv, w1);
            a3 = mla(a3, xv, w0);
            xv = ld4(x + 4 * C, tail, p);
            a2 = mla(a2, xv, w2);
            a3 = mla(a3, xv, w1);
            xv = ld4(x + 5 * C, tail, p);
            a3 = mla(a3, xv, w2);
            continue;
        }
        for (int32_t kx = 0; kx < w->k_w; ++kx, x += ts) {
            const int32x4_t wv = vldrbq_s32(wt + kx * c4);
            a0 = mla(a0, ld4(x, tail, p), wv);
            a1 = mla(a1, ld4(x + ps, tail, p), wv);
            a2 = mla(a2, ld4(x + 2 * ps, tail, p), wv);
            a3 = mla(a3, ld4(x + 3 * ps, tail, p), wv);
        }
    }
    const rq4 r = load_rq(q + c4 + 4 * c);
    const int32_t zp = a->rq.out_zp, lo = a->rq.act_min, hi = a->rq.act_max;
    const int32_t os = w->out_c;
    store4(o, requant(a0, r, zp, lo, hi), tail, p);
    store4(o + os, requant(a1, r, zp, lo, hi), tail, p);
    store4(o + 2 * os, requant(a2, r, zp, lo, hi), tail, p);
    store4(o + 3 * os, requant(a3, r, zp, lo, hi), tail, p);
}

/* 3x3, dilation 1, stride 1 or 2, the four pixels' windows inside the input: all full channel
 * groups of one block of 4 pixels, row pointers and constants advanced by 4 channels per step. */
static void __attribute__((noinline)) dw3_blocks(const int8_t *x0, const int8_t *x1, const int8_t *x2, int32_t C,
                                                 const int8_t *wt, int32_t c4, const int32_t *q, int8_t *o,
                                                 int32_t os, int32_t groups, int32_t zp, int32_t lo, int32_t hi,
                                                 const int s2)
{
    const int32_t *rq = q + c4;
    const int8_t *rows[3] = {x0, x1, x2};
    for (int32_t g = 0; g < groups; ++g, wt += 4, q += 4, rq += 16, o += 4) {
        int32x4_t a0 = vld1q_s32(q), a1 = a0, a2 = a0, a3 = a0;
        for (int32_t r = 0; r < 3; ++r) {
            const int8_t *x = rows[r] + 4 * g;
            const int8_t *wr = wt + 3 * r * c4;
            const int32x4_t w0 = vldrbq_s32(wr), w1 = vldrbq_s32(wr + c4), w2 = vldrbq_s32(wr + 2 * c4);
            int32x4_t v;
            if (s2) {
                v = vldrbq_s32(x);
                a0 = mla(a0, v, w0);
                v = vldrbq_s32(x + C);
                a0 = mla(a0, v, w1);
                v = vldrbq_s32(x + 2 * C);
                a0 = mla(a0, v, w2);
                a1 = mla(a1, v, w0);
                v = vldrbq_s32(x + 3 * C);
                a1 = mla(a1, v, w1);
                v = vldrbq_s32(x + 4 * C);
                a1 = mla(a1, v, w2);
                a2 = mla(a2, v, w0);
                v = vldrbq_s32(x + 5 * C);
                a2 = mla(a2, v, w1);
                v = vldrbq_s32(x + 6 * C);
                a2 = mla(a2, v, w2);
                a3 = mla(a3, v, w0);
                v = vldrbq_s32(x + 7 * C);
                a3 = mla(a3, v, w1);
                v = vldrbq_s32(x + 8 * C);
                a3 = mla(a3, v, w2);
            } else {
                v = vldrbq_s32(x);
                a0 = mla(a0, v, w0);
                v = vldrbq_s32(x + C);
                a0 = mla(a0, v, w1);
                a1 = mla(a1, v, w0);
                v = vldrbq_s32(x + 2 * C);
                a0 = mla(a0, v, w2);
                a1 = mla(a1, v, w1);
                a2 = mla(a2, v, w0);
                v = vldrbq_s32(x + 3 * C);
                a1 = mla(a1, v, w2);
                a2 = mla(a2, v, w1);
                a3 = mla(a3, v, w0);
                v = vldrbq_s32(x + 4 * C);
                a2 = mla(a2, v, w2);
                a3 = mla(a3, v, w1);
                v = vldrbq_s32(x + 5 * C);
                a3 = mla(a3, v, w2);
            }
        }
        const rq4 r = load_rq(rq);
        vstrbq_s32(o, requant(a0, r, zp, lo, hi));
        vstrbq_s32(o + os, requant(a1, r, zp, lo, hi));
        vstrbq_s32(o + 2 * os, requant(a2, r, zp, lo, hi));
        vstrbq_s32(o + 3 * os, requant(a3, r, zp, lo, hi));
    }
}

static void __attribute__((noinline)) row_blocks(const mcf_conv2d_s8_args *a, const int8_t *in_n, int32_t oy,
                                                 int32_t ox, int8_t *o, int32_t c4)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c;
    int32_t c = 0;
    const int32_t iy0 = oy * w->stride_h - w->pad_top;
    if (w->k_h == 3 && w->k_w == 3 && w->dil_h == 1 && w->dil_w == 1 && w->stride_w <= 2 && iy0 >= 0 &&
        iy0 + 2 < w->in_h && C >= 4) {
        const int8_t *x0 = in_n + ((size_t)iy0 * w->in_w + ox * w->stride_w - w->pad_left) * C;
        const int32_t rs = w->in_w * C;
        if (w->stride_w == 2) {
            dw3_blocks(x0, x0 + rs, x0 + 2 * rs, C, (const int8_t *)a->packed_weights, c4, a->packed_quant, o,
                       w->out_c, C >> 2, a->rq.out_zp, a->rq.act_min, a->rq.act_max, 1);
        } else {
            dw3_blocks(x0, x0 + rs, x0 + 2 * rs, C, (const int8_t *)a->packed_weights, c4, a->packed_quant, o,
                       w->out_c, C >> 2, a->rq.out_zp, a->rq.act_min, a->rq.act_max, 0);
        }
        c = C & ~3;
    }
    for (; c + 4 <= C; c += 4) {
        block4(a, in_n, oy, ox, c, c4, o + c, 0, 0);
    }
    if (c < C) {
        block4(a, in_n, oy, ox, c, c4, o + c, 1, vctp32q((uint32_t)(C - c)));
    }
}

static void __attribute__((noinline)) one_pixel(const mcf_conv2d_s8_args *a, const int8_t *in_n, int32_t oy,
                                                int32_t ox, int8_t *o, int32_t c4)
{
    const int32_t C = a->win.in_c;
    int32_t c = 0;
    for (; c + 4 <= C; c += 4) {
        pixel(a, in_n, oy, ox, c, c4, o + c, 0, 0);
    }
    if (c < C) {
        pixel(a, in_n, oy, ox, c, c4, o + c, 1, vctp32q((uint32_t)(C - c)));
    }
}

void mcf_depthwise_conv2d_s8_mve(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t c4 = (w->in_c + 3) & ~3;
    const int32_t span = (w->k_w - 1) * w->dil_w;
    /* output columns whose whole window is inside the input in x: [x_lo, x_hi) */
    int32_t x_lo = 0;
    while (x_lo < w->out_w && x_lo * w->stride_w - w->pad_left < 0) {
        ++x_lo;
    }
    int32_t x_hi = x_lo;
    while (x_hi < w->out_w && x_hi * w->stride_w - w->pad_left + span < w->in_w) {
        ++x_hi;
    }
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        int8_t *out_n = out + (size_t)n * w->out_h * w->out_w * w->out_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            int8_t *orow = out_n + (size_t)oy * w->out_w * w->out_c;
            int32_t ox = 0;
            for (; ox < x_lo; ++ox) {
                one_pixel(a, in_n, oy, ox, orow + ox * w->out_c, c4);
            }
            for (; ox + 4 <= x_hi; ox += 4) {
                row_blocks(a, in_n, oy, ox, orow + ox * w->out_c, c4);
            }
            if (ox < x_hi && x_hi - x_lo >= 4) {
                /* the last interior pixels: one more block that ends at x_hi, recomputing a few
                 * outputs (the output does not overlap the input) */
                row_blocks(a, in_n, oy, x_hi - 4, orow + (x_hi - 4) * w->out_c, c4);
                ox = x_hi;
            }
            for (; ox < w->out_w; ++ox) {
                one_pixel(a, in_n, oy, ox, orow + ox * w->out_c, c4);
            }
        }
    }
}
