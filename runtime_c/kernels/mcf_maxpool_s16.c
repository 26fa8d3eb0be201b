/* int16 max pooling over NHWC windows; padded cells never win. */
#include "mcf_arith_s16.h"
#include "mcf_kernels.h"

void mcf_maxpool_s16(const mcf_pool_s8_args *a, const int16_t *in, int16_t *out)
{
    const mcf_window *w = &a->win;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int16_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                for (int32_t c = 0; c < w->in_c; ++c) {
                    int32_t best = -32769;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = oy * w->stride_h - w->pad_top + ky * w->dil_h;
                        if (iy < 0 || iy >= w->in_h) {
                            continue;
                        }
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            const int32_t ix = ox * w->stride_w - w->pad_left + kx * w->dil_w;
                            if (ix < 0 || ix >= w->in_w) {
                                continue;
                            }
                            best = MCF_MAX(best, (int32_t)in_n[((size_t)iy * w->in_w + ix) * w->in_c + c]);
                        }
                    }
                    *out++ = mcf_sat_s16(best, a->act_min, a->act_max);
                }
            }
        }
    }
}
