/* 16x8 depthwise convolution (depth multiplier 1) on the DSP extension: two channels at a time,
 * one 32-bit load of the input pair and one of the weight pair (weights tap-major as int16,
 * prepared at compile time) per tap, SMLABB / SMLATT into one int32 accumulator per channel.
 * The compiler accepts a layer only when 2^15 * sum |w| < 2^31 per channel, so the int32 sums are
 * exact; the int64 bias and the requantization then follow mcf_depthwise_conv2d_s16 (same bytes). */
#include "mcf_arith_s16.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"

void mcf_depthwise_conv2d_s16_dsp(const mcf_conv2d_s16_args *a, const int16_t *in, int16_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t ch = w->in_c;
    const int16_t *wt = a->packed_weights;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int16_t *in_n = in + (size_t)n * w->in_h * w->in_w * ch;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const int32_t iy0 = oy * w->stride_h - w->pad_top;
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                const int32_t ix0 = ox * w->stride_w - w->pad_left;
                int32_t c = 0;
                for (; c + 2 <= ch; c += 2) {
                    int32_t acc0 = 0, acc1 = 0;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = iy0 + ky * w->dil_h;
                        if (iy < 0 || iy >= w->in_h) {
                            continue;
                        }
                        const int16_t *row = in_n + (size_t)iy * w->in_w * ch + c;
                        const int16_t *wrow = wt + (size_t)ky * w->k_w * ch + c;
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            const int32_t ix = ix0 + kx * w->dil_w;
                            if (ix < 0 || ix >= w->in_w) {
                                continue;
                            }
                            const int32_t xv = mcf_rd32(row + (size_t)ix * ch);
                            const int32_t wv = mcf_rd32(wrow + (size_t)kx * ch);
                            acc0 = __smlabb(xv, wv, acc0);
                            acc1 = __smlatt(xv, wv, acc1);
                        }
                    }
                    out[c] = mcf_requant_s16(acc0, a->bias64, a->bias32, c, a->mult, a->shift, a->act_min, a->act_max);
                    out[c + 1] = mcf_requant_s16(acc1, a->bias64, a->bias32, c + 1, a->mult, a->shift, a->act_min, a->act_max);
                }
                for (; c < ch; ++c) {
                    int32_t acc = 0;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = iy0 + ky * w->dil_h;
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            const int32_t ix = ix0 + kx * w->dil_w;
                            if (iy >= 0 && iy < w->in_h && ix >= 0 && ix < w->in_w) {
                                acc += (int32_t)in_n[((size_t)iy * w->in_w + ix) * ch + c] *
                                       (int32_t)wt[(size_t)(ky * w->k_w + kx) * ch + c];
                            }
                        }
                    }
                    out[c] = mcf_requant_s16(acc, a->bias64, a->bias32, c, a->mult, a->shift, a->act_min, a->act_max);
                }
                out += ch;
            }
        }
    }
}
