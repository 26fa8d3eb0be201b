/* 16x8 depthwise convolution (groups == input channels, depth multiplier M = out_c / in_c),
 * reference version: output channel oc reads input channel oc / M; int64 accumulation and the
 * 64-bit requantization, as TFLite's DepthwiseConvPerChannel for int16. */
#include "mcf_arith_s16.h"
#include "mcf_kernels.h"

void mcf_depthwise_conv2d_s16(const mcf_conv2d_s16_args *a, const int16_t *in, int16_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t mult = w->out_c / w->in_c;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int16_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const int32_t iy0 = oy * w->stride_h - w->pad_top;
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                const int32_t ix0 = ox * w->stride_w - w->pad_left;
                for (int32_t oc = 0; oc < w->out_c; ++oc) {
                    const int32_t ic = oc / mult;
                    const int8_t *filt = a->weights + (size_t)oc * w->k_h * w->k_w;
                    int64_t acc = 0;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = iy0 + ky * w->dil_h;
                        if (iy < 0 || iy >= w->in_h) {
                            continue;
                        }
                        const int16_t *row = in_n + (size_t)iy * w->in_w * w->in_c + ic;
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            const int32_t ix = ix0 + kx * w->dil_w;
                            if (ix < 0 || ix >= w->in_w) {
                                continue;
                            }
                            acc += (int32_t)row[(size_t)ix * w->in_c] * (int32_t)filt[ky * w->k_w + kx];
                        }
                    }
                    *out++ = mcf_requant_s16(acc, a->bias64, a->bias32, oc, a->mult, a->shift, a->act_min, a->act_max);
                }
            }
        }
    }
}
