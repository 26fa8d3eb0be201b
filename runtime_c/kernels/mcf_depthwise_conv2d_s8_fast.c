/*
 * int8 depthwise convolution (any depth multiplier, kernel, stride, dilation, padding), tuned
 * portable C for cores without SIMD (Cortex-M0, M3) and any C99 target.
 *
 * Instead of the reference kernel's bounds check per tap and division per output channel:
 *  - a pixel whose window lies inside the input reads its taps at fixed byte offsets (3x3 unrolled,
 *    other windows through a table of tap offsets built once per call) with the input zero point
 *    folded into the bias at compile time;
 *  - a pixel that touches the padding visits only the taps inside the input, found once per pixel
 *    as a row and column range, as sum((x - zp) w) + bias, which is what the reference computes.
 * Weights are widened to int32 at compile time (variants/fast.py): one load with an immediate
 * offset per tap on ARMv6-M, whose signed byte loads take only register offsets.
 * Requantization: per channel q = {bias', m, rcz, e} (variants/shared.py, fast_quant); where e >= 1
 * the 32-bit form of mcf_opt.h, its high multiply on 16-bit halves on ARMv6-M (no 32 x 32 -> 64
 * multiply there); otherwise the reference requantization.
 * Same order of reads and writes as the reference kernel (pixel by pixel, channels in order, the
 * taps of a channel read before its output is written), so the same in-place overlaps are safe.
 */
#include "mcf_arith.h"
#include "mcf_kernels.h"

#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__)
#define MCF_FAST_NO_LONG_MUL 1
#endif

/* Windows up to this many taps use the offset table; larger ones the nested loops. */
#define MCF_DW_MAX_TAPS 25

/* floor((2 acc m + 2^31) / 2^32) for |acc| < 2^29, 0 <= m < 2^31 (fast_quant checks both); on
 * ARMv6-M on 16-bit halves, as in mcf_conv2d_s8_fast.c (which states the bounds). */
static inline int32_t mulhi(int32_t acc, int32_t m)
{
#ifdef MCF_FAST_NO_LONG_MUL
    const int32_t A = acc * 2;
    const int32_t al = (int16_t)A, ah = (A - al) >> 16;
    const int32_t ml = (int16_t)m, mh = (int32_t)(((uint32_t)m - (uint32_t)ml) >> 16);
    return ah * mh + ((ah * ml + al * mh + ((al * ml) >> 16) + 0x8000) >> 16);
#else
    return (int32_t)(((int64_t)(acc * 2) * m + 0x80000000LL) >> 32);
#endif
}

/*
 * Requantization. With q = {bias', m, rcz, e} and e >= 1 (fast_quant proved |acc| < 2^29, m >= 0,
 * 1 <= e <= 22 for this channel): TFLite's SRDHM(acc, m) = floor((2 acc m + 2^31) / 2^32), then
 * the rounding divide (half away from zero) plus the zero point as
 * (s + 2^(e-1) + zp 2^e - [acc < 0]) >> e (see mcf_dsp_requant in mcf_opt.h for the proof).
 * Otherwise (e == 0) the reference requantization.
 */
static inline int8_t finish(const mcf_conv2d_s8_args *a, int32_t acc, int32_t oc, const int32_t *q)
{
    int32_t y;
    if (q[3] > 0) {
        y = (mulhi(acc, q[1]) + q[2] + (acc >> 31)) >> q[3];
    } else {
        y = mcf_requantize(acc, a->rq.mult[oc], a->rq.shift[oc]) + a->rq.out_zp;
    }
    return mcf_sat_s8(y, a->rq.act_min, a->rq.act_max);
}

/* first k in [0, n) with 0 <= i0 + k d, and one past the last with i0 + k d < size */
static inline void tap_range(int32_t i0, int32_t d, int32_t n, int32_t size, int32_t *k0, int32_t *k1)
{
    int32_t lo = 0, hi = n;
    while (lo < n && i0 + lo * d < 0) {
        ++lo;
    }
    while (hi > lo && i0 + (hi - 1) * d >= size) {
        --hi;
    }
    *k0 = lo;
    *k1 = hi;
}

void mcf_depthwise_conv2d_s8_fast(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c, OC = w->out_c, mult = OC / C;
    const int32_t kh = w->k_h, kw = w->k_w, taps = kh * kw;
    const int32_t rs = w->in_w * C;
    const int32_t zp = a->rq.in_zp;
    const int32_t *fb = a->packed_quant;
    const int32_t *wts = (const int32_t *)a->packed_weights;
    const int fast3 = kh == 3 && kw == 3 && w->dil_h == 1 && w->dil_w == 1 && mult == 1;
    const int32_t span_y = (kh - 1) * w->dil_h, span_x = (kw - 1) * w->dil_w;
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
            tap_range(iy0, w->dil_h, kh, w->in_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                const int32_t ix0 = ox * w->stride_w - w->pad_left;
                if (rows_in && ix0 >= 0 && ix0 + span_x < w->in_w) {
                    const int8_t *p = in_n + (size_t)iy0 * rs + (size_t)ix0 * C;
                    if (fast3) {
                        const int32_t C2 = 2 * C;
                        const int32_t *wt = wts, *q = fb;
                        for (int32_t oc = 0; oc < OC; ++oc, ++p, wt += 9, q += 4) {
                            const int8_t *r = p;
                            int32_t acc = q[0];
                            acc += r[0] * wt[0] + r[C] * wt[1] + r[C2] * wt[2];
                            r += rs;
                            acc += r[0] * wt[3] + r[C] * wt[4] + r[C2] * wt[5];
                            r += rs;
                            acc += r[0] * wt[6] + r[C] * wt[7] + r[C2] * wt[8];
                            *o++ = finish(a, acc, oc, q);
                        }
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
                            *o++ = finish(a, acc, oc, fb + 4 * oc);
                        }
                    }
                    continue;
                }
                /* a window that reaches into the padding: only the taps inside, as the reference */
                int32_t kx0, kx1;
                tap_range(ix0, w->dil_w, kw, w->in_w, &kx0, &kx1);
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
                        *o++ = finish(a, acc, oc, fb + 4 * oc);
                    }
                }
            }
        }
    }
}
