/* Average-pool (and global mean) backward, reference version: scatters each window's share. */
#include <string.h>

#include "mcf_train.h"

void mcf_avgpool_backward(const mcf_pool_grad_args *a, const float *dy, float *dx)
{
    const mcf_window *w = &a->win;
    memset(dx, 0, sizeof(float) * (size_t)w->batch * w->in_h * w->in_w * w->in_c);
    for (int32_t n = 0; n < w->batch; ++n) {
        float *dx_n = dx + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                int32_t count = 0;
                for (int32_t ky = 0; ky < w->k_h; ++ky) {
                    const int32_t iy = oy * w->stride_h - w->pad_top + ky * w->dil_h;
                    for (int32_t kx = 0; kx < w->k_w; ++kx) {
                        const int32_t ix = ox * w->stride_w - w->pad_left + kx * w->dil_w;
                        const int inside = iy >= 0 && iy < w->in_h && ix >= 0 && ix < w->in_w;
                        count += inside || a->count_include_pad;
                    }
                }
                const float *d = dy + (((size_t)n * w->out_h + oy) * w->out_w + ox) * w->in_c;
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
                        float *p = dx_n + ((size_t)iy * w->in_w + ix) * w->in_c;
                        for (int32_t c = 0; c < w->in_c; ++c) {
                            p[c] += d[c] / (float)count;
                        }
                    }
                }
            }
        }
    }
}
