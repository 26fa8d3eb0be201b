/*
 * int8 depthwise convolution (any depth multiplier, kernel, stride, dilation, padding), tuned
 * portable C for cores without SIMD (Cortex-M0, M3) and any C99 target.
 *
 * Instead of the reference kernel's bounds check per tap and division per output channel: a pixel
 * whose window lies inside the input reads its taps at fixed byte offsets (a 3x3 window unrolled)
 * with the input zero point folded into the bias at compile time; a pixel that touches the
 * padding multiplies the zero point for the taps outside. Same order of reads and writes as the
 * reference kernel (pixel by pixel, channels in order), so the same in-place overlaps are safe.
 * Compile-time preparation (variants.py, fast_dw): packed_quant = per output channel {bias', m,
 * rcz, e} as for the DSP kernels (mcf_opt.h) where the 32-bit requantization is proven exact,
 * else {bias', 0, 0, 0}.
 */
#include "mcf_arith.h"
#include "mcf_kernels.h"

/*
 * Requantization. With q = {bias', m, rcz, e} and e >= 1 (variants.py proved |acc| < 2^30, m >= 0,
 * 1 <= e <= 22 for this channel): TFLite's SRDHM(acc, m) = floor((2 acc m + 2^31) / 2^32), one
 * 32 x 32 -> 64 multiply, then the rounding divide (half away from zero) plus the zero point as
 * (s + 2^(e-1) + zp 2^e - [acc < 0]) >> e (see mcf_dsp_requant in mcf_opt.h for the proof).
 * Otherwise (e == 0) the reference requantization.
 */
static inline int8_t finish(const mcf_conv2d_s8_args *a, int32_t acc, int32_t oc, const int32_t *q)
{
    int32_t y;
    if (q[3] > 0) {
        const int32_t s = (int32_t)(((int64_t)(acc * 2) * q[1] + 0x80000000LL) >> 32);
        y = (s + q[2] + (acc >> 31)) >> q[3];
    } else {
        y = mcf_requantize(acc, a->rq.mult[oc], a->rq.shift[oc]) + a->rq.out_zp;
    }
    return mcf_sat_s8(y, a->rq.act_min, a->rq.act_max);
}

void mcf_depthwise_conv2d_s8_fast(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c, OC = w->out_c, mult = OC / C;
    const int32_t kh = w->k_h, kw = w->k_w, taps = kh * kw;
    const int32_t rs = w->in_w * C;
    const int32_t zp = a->rq.in_zp;
    const int32_t *fb = a->packed_quant;
    const int fast3 = kh == 3 && kw == 3 && w->dil_h == 1 && w->dil_w == 1;
    const int32_t span_y = (kh - 1) * w->dil_h, span_x = (kw - 1) * w->dil_w;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * rs;
        int8_t *o = out + (size_t)n * w->out_h * w->out_w * OC;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const int32_t iy0 = oy * w->stride_h - w->pad_top;
            const int rows_in = iy0 >= 0 && iy0 + span_y < w->in_h;
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                const int32_t ix0 = ox * w->stride_w - w->pad_left;
                const int8_t *wt = a->weights;
                if (rows_in && ix0 >= 0 && ix0 + span_x < w->in_w) {
                    const int8_t *p = in_n + (size_t)iy0 * rs + (size_t)ix0 * C;
                    if (fast3 && mult == 1) {
                        for (int32_t oc = 0; oc < OC; ++oc, ++p, wt += 9) {
                            const int8_t *p1 = p + rs, *p2 = p1 + rs;
                            int32_t acc = fb[4 * oc];
                            acc += p[0] * wt[0] + p[C] * wt[1] + p[2 * C] * wt[2];
                            acc += p1[0] * wt[3] + p1[C] * wt[4] + p1[2 * C] * wt[5];
                            acc += p2[0] * wt[6] + p2[C] * wt[7] + p2[2 * C] * wt[8];
                            *o++ = finish(a, acc, oc, fb + 4 * oc);
                        }
                        continue;
                    }
                    int32_t oc = 0;
                    for (int32_t ic = 0; ic < C; ++ic, ++p) {
                        for (int32_t m = 0; m < mult; ++m, ++oc, wt += taps) {
                            int32_t acc = fb[4 * oc];
                            const int8_t *t = wt;
                            for (int32_t ky = 0; ky < kh; ++ky) {
                                const int8_t *r = p + (size_t)ky * w->dil_h * rs;
                                for (int32_t kx = 0; kx < kw; ++kx, r += w->dil_w * C) {
                                    acc += *r * *t++;
                                }
                            }
                            *o++ = finish(a, acc, oc, fb + 4 * oc);
                        }
                    }
                    continue;
                }
                /* a window that reaches into the padding */
                int32_t oc = 0;
                for (int32_t ic = 0; ic < C; ++ic) {
                    for (int32_t m = 0; m < mult; ++m, ++oc, wt += taps) {
                        int32_t acc = fb[4 * oc];
                        const int8_t *t = wt;
                        for (int32_t ky = 0; ky < kh; ++ky) {
                            const int32_t iy = iy0 + ky * w->dil_h;
                            const int yin = iy >= 0 && iy < w->in_h;
                            for (int32_t kx = 0; kx < kw; ++kx) {
                                const int32_t ix = ix0 + kx * w->dil_w;
                                const int32_t x = yin && ix >= 0 && ix < w->in_w ? in_n[(size_t)iy * rs + (size_t)ix * C + ic] : zp;
                                acc += x * *t++;
                            }
                        }
                        *o++ = finish(a, acc, oc, fb + 4 * oc);
                    }
                }
            }
        }
    }
}
