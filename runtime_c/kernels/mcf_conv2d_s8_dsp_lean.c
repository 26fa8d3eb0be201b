/*
 * int8 2-D convolution (groups == 1) for cores with the DSP extension, in little scratch.
 *
 * The same prepared weights and per-channel constants as mcf_conv2d_s8_dsp.c (variants.py), but
 * one output pixel at a time from an int8 patch: the scratch is K4 bytes (the patch, segments
 * padded to multiples of 4) instead of two int16 columns and a segment buffer (4 * K4 + L4), and
 * the inputs are widened with SXTB16 in the inner loop. About 1 MAC per instruction instead of
 * 1.6, so it is chosen only where the faster kernel's scratch would set the arena's peak
 * (codegen/c/lean.py). It writes a pixel after copying its patch, in pixel order, so the in-place
 * rule of schedule/inplace.py holds for it.
 */
#include <string.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"

/* The patch of output pixel (oy, ox) as int8, the zero point in the padding, each segment
 * (a kernel row of contiguous bytes, or one tap when dilated) padded to seg4 bytes. */
static void gather(const mcf_window *w, const int8_t *in_n, int8_t zp, int32_t oy, int32_t ox, int32_t seg4,
                   int8_t *patch)
{
    const int32_t iy0 = oy * w->stride_h - w->pad_top, ix0 = ox * w->stride_w - w->pad_left;
    const int32_t c = w->in_c;
    const int32_t per_row = w->dil_w == 1;
    for (int32_t ky = 0; ky < w->k_h; ++ky) {
        const int32_t iy = iy0 + ky * w->dil_h;
        const int row_in = iy >= 0 && iy < w->in_h;
        if (per_row && row_in && ix0 >= 0 && ix0 + w->k_w <= w->in_w) {
            memcpy(patch, in_n + ((size_t)iy * w->in_w + ix0) * c, (size_t)(w->k_w * c));
            patch += seg4;
            continue;
        }
        int8_t *dst = patch;
        for (int32_t kx = 0; kx < w->k_w; ++kx) {
            const int32_t ix = ix0 + kx * w->dil_w;
            if (!per_row) {
                dst = patch;
            }
            if (row_in && ix >= 0 && ix < w->in_w) {
                memcpy(dst, in_n + ((size_t)iy * w->in_w + ix) * c, (size_t)c);
            } else {
                memset(dst, zp, (size_t)c);
            }
            dst += c;
            if (!per_row) {
                patch += seg4;
            }
        }
        if (per_row) {
            patch += seg4;
        }
    }
}

void mcf_conv2d_s8_dsp_lean(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t seg_len = w->dil_w == 1 ? w->k_w * w->in_c : w->in_c;
    const int32_t seg4 = (seg_len + 3) & ~3;
    const int32_t n_seg = w->dil_w == 1 ? w->k_h : w->k_h * w->k_w;
    const int32_t steps = n_seg * seg4 / 4;
    const int32_t lo = a->rq.act_min, hi = a->rq.act_max;
    int8_t *patch = (int8_t *)a->scratch;
    /* the segments' padding bytes meet zero weights; zero them once so they are defined */
    memset(patch, 0, (size_t)(n_seg * seg4));
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        int8_t *o = out + (size_t)n * w->out_h * w->out_w * w->out_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            for (int32_t ox = 0; ox < w->out_w; ++ox, o += w->out_c) {
                gather(w, in_n, (int8_t)a->rq.in_zp, oy, ox, seg4, patch);
                const int32_t *wp = (const int32_t *)a->packed_weights;
                const int32_t *q = a->packed_quant;
                int32_t oc = 0;
                /* channel pairs: per 4 inputs, ch0's two weight words then ch1's (SXTB16 order) */
                for (; oc + 2 <= w->out_c; oc += 2, q += 8) {
                    int32_t a0 = q[0], a1 = q[4];
                    wp = mcf_dsp_dot2(patch, wp, steps, &a0, &a1);
                    o[oc] = mcf_dsp_store(a0, q, lo, hi);
                    o[oc + 1] = mcf_dsp_store(a1, q + 4, lo, hi);
                }
                if (oc < w->out_c) {        /* the odd last channel: [K4 / 4][4 halfwords] */
                    int32_t a0 = q[0];
                    wp = mcf_dsp_dot1(patch, wp, steps, &a0);
                    o[oc] = mcf_dsp_store(a0, q, lo, hi);
                }
            }
        }
    }
}
