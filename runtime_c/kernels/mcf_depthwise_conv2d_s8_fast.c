/*
 * int8 depthwise convolution (any depth multiplier, kernel, stride, dilation, padding), tuned
 * portable C for cores without SIMD (Cortex-M0, M3) and any C99 target.
 *
 * Instead of the reference kernel's bounds check per tap and division per output channel:
 *  - a pixel whose window lies inside the input reads its taps at fixed byte offsets (3x3 unrolled,
 *    other windows through a table of tap offsets built once per call) with the input zero point
 *    folded into the bias at compile time;
 *  - a 3x3 pixel that touches the padding copies its window, 16 channels at a time, into a small
 *    patch on the stack with the zero point for the padding and runs the interior code on it;
 *    other windows visit only the taps inside the input (a row and a column range per pixel) as
 *    sum((x - zp) w) + bias, which is what the reference computes.
 * Weights are widened to int32 at compile time (variants/fast.py): one load with an immediate
 * offset per tap on ARMv6-M, whose signed byte loads take only register offsets.
 * Requantization: per channel q = {bias', m, rcz, e} (variants/shared.py, fast_quant); where e >= 1
 * the 32-bit form of mcf_opt.h, its high multiply on 16-bit halves on ARMv6-M (no 32 x 32 -> 64
 * multiply there); otherwise the reference requantization.
 * Same order of reads and writes as the reference kernel (pixel by pixel, channels in order, the
 * taps of a channel read before its output is written), so the same in-place overlaps are safe.
 */
#include <string.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_fast_requant.h"
#include "mcf_window.h"


/* Windows up to this many taps use the offset table; larger ones the nested loops. */
#define MCF_DW_MAX_TAPS 25
/* Channels per 3x3 patch copied for a pixel over the padding (9 x this many bytes of stack). */
#define MCF_DW_CHUNK 16


/* n channels (depth multiplier 1) of a 3x3 window at p: channel stride 1, column stride cs, row
 * stride rs; channel oc's weights at wt, its constants at q. Inlined twice (all_fast 0 / 1) so
 * that a layer whose every channel has the 32-bit requantization does not test it per output. */
static inline __attribute__((always_inline)) int8_t *dw3(const mcf_conv2d_s8_args *a, const int8_t *p,
                                                         int32_t cs, int32_t rs, const int32_t *wt,
                                                         const int32_t *q, int32_t oc, int32_t n, int8_t *o,
                                                         int all_fast)
{
    const int32_t cs2 = 2 * cs, lo = a->rq.act_min, hi = a->rq.act_max;
    for (int32_t i = 0; i < n; ++i, ++p, wt += 9, q += 4) {
        const int8_t *r = p;
        int32_t acc = q[0];
        acc += r[0] * wt[0] + r[cs] * wt[1] + r[cs2] * wt[2];
        r += rs;
        acc += r[0] * wt[3] + r[cs] * wt[4] + r[cs2] * wt[5];
        r += rs;
        acc += r[0] * wt[6] + r[cs] * wt[7] + r[cs2] * wt[8];
        *o++ = mcf_fast_finish(a, acc, oc + i, q, lo, hi, all_fast);
    }
    return o;
}

static int8_t *dw3_fast(const mcf_conv2d_s8_args *a, const int8_t *p, int32_t cs, int32_t rs, const int32_t *wt,
                        const int32_t *q, int32_t oc, int32_t n, int8_t *o)
{
    return dw3(a, p, cs, rs, wt, q, oc, n, o, 1);
}

static int8_t *dw3_any(const mcf_conv2d_s8_args *a, const int8_t *p, int32_t cs, int32_t rs, const int32_t *wt,
                       const int32_t *q, int32_t oc, int32_t n, int8_t *o)
{
    return dw3(a, p, cs, rs, wt, q, oc, n, o, 0);
}

void mcf_depthwise_conv2d_s8_fast(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c, OC = w->out_c, mult = OC / C;
    const int32_t kh = w->k_h, kw = w->k_w, taps = kh * kw;
    const int32_t rs = w->in_w * C;
    const int32_t zp = a->rq.in_zp, lo = a->rq.act_min, hi = a->rq.act_max;
    const int32_t *fb = a->packed_quant;
    const int32_t *wts = (const int32_t *)a->packed_weights;
    const int fast3 = kh == 3 && kw == 3 && w->dil_h == 1 && w->dil_w == 1 && mult == 1;
    const int32_t span_y = (kh - 1) * w->dil_h, span_x = (kw - 1) * w->dil_w;
    int all_fast = 1;
    for (int32_t oc = 0; oc < OC; ++oc) {
        all_fast &= fb[4 * oc + 3] > 0;
    }
    int8_t *(*const run3)(const mcf_conv2d_s8_args *, const int8_t *, int32_t, int32_t, const int32_t *,
                          const int32_t *, int32_t, int32_t, int8_t *) = all_fast ? dw3_fast : dw3_any;
    int32_t off[MCF_DW_MAX_TAPS];
    const int table = taps <= MCF_DW_MAX_TAPS;
    if (table) {
        for (int32_t ky = 0, t = 0; ky < kh; ++ky) {
            for (int32_t kx = 0; kx < kw; ++kx) {
                off[t++] = ky * w->dil_h * rs + kx * w->dil_w * C;
            }
        }
    }
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * rs;
        int8_t *o = out + (size_t)n * w->out_h * w->out_w * OC;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const int32_t iy0 = oy * w->stride_h - w->pad_top;
            const int rows_in = iy0 >= 0 && iy0 + span_y < w->in_h;
            int32_t ky0, ky1;
            mcf_taps_inside(iy0, kh, w->dil_h, w->in_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                const int32_t ix0 = ox * w->stride_w - w->pad_left;
                if (rows_in && ix0 >= 0 && ix0 + span_x < w->in_w) {
                    const int8_t *p = in_n + (size_t)iy0 * rs + (size_t)ix0 * C;
                    if (fast3) {
                        o = run3(a, p, C, rs, wts, fb, 0, OC, o);
                        continue;
                    }
                    const int32_t *wt = wts;
                    int32_t oc = 0;
                    for (int32_t ic = 0; ic < C; ++ic, ++p) {
                        for (int32_t m = 0; m < mult; ++m, ++oc, wt += taps) {
                            int32_t acc = fb[4 * oc];
                            if (table) {
                                for (int32_t t = 0; t < taps; ++t) {
                                    acc += p[off[t]] * wt[t];
                                }
                            } else {
                                const int32_t *t = wt;
                                for (int32_t ky = 0; ky < kh; ++ky) {
                                    const int8_t *r = p + (size_t)ky * w->dil_h * rs;
                                    for (int32_t kx = 0; kx < kw; ++kx, r += w->dil_w * C) {
                                        acc += *r * *t++;
                                    }
                                }
                            }
                            *o++ = mcf_fast_finish(a, acc, oc, fb + 4 * oc, lo, hi, 0);
                        }
                    }
                    continue;
                }
                if (fast3) {
                    /* a 3x3 window over the padding: MCF_DW_CHUNK channels at a time copied into a
                     * 3x3 patch (padding = the zero point, as the folded bias expects), then the
                     * interior code on the patch */
                    int8_t patch[9 * MCF_DW_CHUNK];
                    for (int32_t c0 = 0; c0 < C; c0 += MCF_DW_CHUNK) {
                        const int32_t nc = C - c0 < MCF_DW_CHUNK ? C - c0 : MCF_DW_CHUNK;
                        int8_t *dst = patch;
                        for (int32_t ky = 0; ky < 3; ++ky) {
                            const int32_t iy = iy0 + ky;
                            for (int32_t kx = 0; kx < 3; ++kx, dst += MCF_DW_CHUNK) {
                                const int32_t ix = ix0 + kx;
                                if (iy >= 0 && iy < w->in_h && ix >= 0 && ix < w->in_w) {
                                    memcpy(dst, in_n + (size_t)iy * rs + (size_t)ix * C + c0, (size_t)nc);
                                } else {
                                    memset(dst, (int8_t)zp, (size_t)nc);
                                }
                            }
                        }
                        o = run3(a, patch, MCF_DW_CHUNK, 3 * MCF_DW_CHUNK, wts + 9 * c0, fb + 4 * c0, c0, nc, o);
                    }
                    continue;
                }
                /* other windows over the padding: only the taps inside, as the reference */
                int32_t kx0, kx1;
                mcf_taps_inside(ix0, kw, w->dil_w, w->in_w, &kx0, &kx1);
                const int32_t *wt = wts;
                int32_t oc = 0;
                for (int32_t ic = 0; ic < C; ++ic) {
                    const int8_t *p = in_n + ic;
                    for (int32_t m = 0; m < mult; ++m, ++oc, wt += taps) {
                        int32_t acc = a->bias ? a->bias[oc] : 0;
                        for (int32_t ky = ky0; ky < ky1; ++ky) {
                            const int8_t *r = p + (size_t)(iy0 + ky * w->dil_h) * rs;
                            const int32_t *t = wt + ky * kw;
                            for (int32_t kx = kx0; kx < kx1; ++kx) {
                                acc += (r[(ix0 + kx * w->dil_w) * C] - zp) * t[kx];
                            }
                        }
                        *o++ = mcf_fast_finish(a, acc, oc, fb + 4 * oc, lo, hi, 0);
                    }
                }
            }
        }
    }
}
