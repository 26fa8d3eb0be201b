/*
 * int8 2-D convolution (groups == 1), tuned portable C for cores without SIMD (Cortex-M0, M3) and
 * any C99 target. Instead of the reference kernel's bounds check per tap and division per output
 * channel: the patches of two output pixels are gathered once (padding = the input zero point,
 * folded into the bias at compile time), then a 2 channels x 2 pixels loop does four multiply-
 * accumulates per four loads over the plain [out_c][K] weights.
 * Compile-time preparation (variants.py, fast_conv): packed_quant = per channel {bias', m, rcz, e}
 * (variants.py, fast_quant).
 * Scratch: two patches of K bytes.
 */
#include <string.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"

static const int8_t *gather(const mcf_conv2d_s8_args *a, const int8_t *in_n, int32_t oy, int32_t ox, int8_t *col)
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
            memcpy(dst, in_n + ((size_t)iy * w->in_w + ix0) * c, (size_t)(w->k_w * c));
            dst += w->k_w * c;
            continue;
        }
        for (int32_t kx = 0; kx < w->k_w; ++kx, dst += c) {
            const int32_t ix = ix0 + kx * w->dil_w;
            if (iy >= 0 && iy < w->in_h && ix >= 0 && ix < w->in_w) {
                memcpy(dst, in_n + ((size_t)iy * w->in_w + ix) * c, (size_t)c);
            } else {
                memset(dst, (int8_t)a->rq.in_zp, (size_t)c);
            }
        }
    }
    return col;
}

/* Requantization with q = {bias', m, rcz, e}: the 32-bit form where variants.py proved it exact
 * (e >= 1), else the reference one (see mcf_depthwise_conv2d_s8_fast.c). */
static inline int8_t finish(const mcf_conv2d_s8_args *a, int32_t acc, int32_t oc)
{
    const int32_t *q = a->packed_quant + 4 * oc;
    int32_t y;
    if (q[3] > 0) {
        const int32_t s = (int32_t)(((int64_t)(acc * 2) * q[1] + 0x80000000LL) >> 32);
        y = (s + q[2] + (acc >> 31)) >> q[3];
    } else {
        y = mcf_requantize(acc, a->rq.mult[oc], a->rq.shift[oc]) + a->rq.out_zp;
    }
    return mcf_sat_s8(y, a->rq.act_min, a->rq.act_max);
}

static void gemm(const mcf_conv2d_s8_args *a, int32_t k, const int8_t *p0, const int8_t *p1, int8_t *out0,
                 int8_t *out1)
{
    const int32_t oc_n = a->win.out_c;
    const int32_t *q = a->packed_quant;
    const int8_t *f0 = a->weights;
    int32_t oc = 0;
    if (!out1) {
        /* one pixel (an odd last pixel, a fully connected layer): 2 channels per pass */
        for (; oc + 2 <= oc_n; oc += 2, f0 += 2 * k) {
            const int8_t *f1 = f0 + k;
            int32_t a00 = q[4 * oc], a10 = q[4 * oc + 4];
            for (int32_t i = 0; i < k; ++i) {
                const int32_t x0 = p0[i];
                a00 += x0 * f0[i];
                a10 += x0 * f1[i];
            }
            out0[oc] = finish(a, a00, oc);
            out0[oc + 1] = finish(a, a10, oc + 1);
        }
    }
    for (; oc + 2 <= oc_n; oc += 2, f0 += 2 * k) {
        const int8_t *f1 = f0 + k;
        int32_t a00 = q[4 * oc], a01 = q[4 * oc], a10 = q[4 * oc + 4], a11 = q[4 * oc + 4];
        int32_t i = 0;
        for (; i + 2 <= k; i += 2) {
            int32_t x0 = p0[i], x1 = p1[i], w0 = f0[i], w1 = f1[i];
            a00 += x0 * w0;
            a01 += x1 * w0;
            a10 += x0 * w1;
            a11 += x1 * w1;
            x0 = p0[i + 1];
            x1 = p1[i + 1];
            w0 = f0[i + 1];
            w1 = f1[i + 1];
            a00 += x0 * w0;
            a01 += x1 * w0;
            a10 += x0 * w1;
            a11 += x1 * w1;
        }
        if (i < k) {
            const int32_t x0 = p0[i], x1 = p1[i], w0 = f0[i], w1 = f1[i];
            a00 += x0 * w0;
            a01 += x1 * w0;
            a10 += x0 * w1;
            a11 += x1 * w1;
        }
        out0[oc] = finish(a, a00, oc);
        out0[oc + 1] = finish(a, a10, oc + 1);
        if (out1) {
            out1[oc] = finish(a, a01, oc);
            out1[oc + 1] = finish(a, a11, oc + 1);
        }
    }
    if (oc < oc_n) {
        int32_t a00 = q[4 * oc], a01 = q[4 * oc];
        for (int32_t i = 0; i < k; ++i) {
            a00 += p0[i] * f0[i];
            a01 += p1[i] * f0[i];
        }
        out0[oc] = finish(a, a00, oc);
        if (out1) {
            out1[oc] = finish(a, a01, oc);
        }
    }
}

void mcf_conv2d_s8_fast(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t k = w->k_h * w->k_w * w->in_c;
    int8_t *col0 = (int8_t *)a->scratch;
    int8_t *col1 = col0 + ((k + 3) & ~3);
    const int32_t npix = w->out_h * w->out_w;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        int8_t *out_n = out + (size_t)n * npix * w->out_c;
        int32_t oy = 0, ox = 0;
        for (int32_t p = 0; p < npix; p += 2) {
            const int8_t *x0 = gather(a, in_n, oy, ox, col0);
            const int8_t *x1 = x0;
            int8_t *o1 = NULL;
            if (++ox == w->out_w) {
                ox = 0;
                ++oy;
            }
            if (p + 1 < npix) {
                x1 = gather(a, in_n, oy, ox, col1);
                o1 = out_n + (size_t)(p + 1) * w->out_c;
                if (++ox == w->out_w) {
                    ox = 0;
                    ++oy;
                }
            }
            gemm(a, k, x0, x1, out_n + (size_t)p * w->out_c, o1);
        }
    }
}
