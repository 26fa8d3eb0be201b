/* 16x8 2-D convolution, any groups, reference version: int16 input (zero point 0), int8 weights,
 * int64 accumulation of x * w plus an int64 bias, then the 64-bit per-channel requantization
 * (TFLite's ConvPerChannel for int16). With an int32 bias TFLite accumulates in int32; the
 * compiler proved that sum never leaves int32, so the int64 sum here equals it. */
#include "mcf_arith_s16.h"
#include "mcf_kernels.h"

void mcf_conv2d_s16(const mcf_conv2d_s16_args *a, const int16_t *in, int16_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t in_per_group = w->in_c / a->groups;
    const int32_t out_per_group = w->out_c / a->groups;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int16_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const int32_t iy0 = oy * w->stride_h - w->pad_top;
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                const int32_t ix0 = ox * w->stride_w - w->pad_left;
                for (int32_t oc = 0; oc < w->out_c; ++oc) {
                    const int32_t ic0 = (oc / out_per_group) * in_per_group;
                    const int8_t *filt = a->weights + (size_t)oc * w->k_h * w->k_w * in_per_group;
                    int64_t acc = 0;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = iy0 + ky * w->dil_h;
                        if (iy < 0 || iy >= w->in_h) {
                            continue;
                        }
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            const int32_t ix = ix0 + kx * w->dil_w;
                            if (ix < 0 || ix >= w->in_w) {
                                continue;
                            }
                            const int16_t *px = in_n + ((size_t)iy * w->in_w + ix) * w->in_c + ic0;
                            const int8_t *fk = filt + ((size_t)ky * w->k_w + kx) * in_per_group;
                            /* int32 product, int64 sum */
                            for (int32_t ic = 0; ic < in_per_group; ++ic) {
                                acc += (int32_t)px[ic] * (int32_t)fk[ic];
                            }
                        }
                    }
                    *out++ = mcf_requant_s16(acc, a->bias64, a->bias32, oc, a->mult, a->shift, a->act_min, a->act_max);
                }
            }
        }
    }
}
