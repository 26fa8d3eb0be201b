/* float32 average pooling; padding excluded from the count unless count_include_pad. */
#include "mcf_arith.h"
#include "mcf_kernels.h"

void mcf_avgpool_f32(const mcf_pool_f32_args *a, const float *in, float *out)
{
    const mcf_window *w = &a->win;
    for (int32_t n = 0; n < w->batch; ++n) {
        const float *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                for (int32_t c = 0; c < w->in_c; ++c) {
                    float acc = 0.0f;
                    int32_t count = 0;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = oy * w->stride_h - w->pad_top + ky * w->dil_h;
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            const int32_t ix = ox * w->stride_w - w->pad_left + kx * w->dil_w;
                            if (iy < 0 || iy >= w->in_h || ix < 0 || ix >= w->in_w) {
                                count += a->count_include_pad ? 1 : 0;
                                continue;
                            }
                            acc += in_n[((size_t)iy * w->in_w + ix) * w->in_c + c];
                            ++count;
                        }
                    }
                    const float avg = acc / (float)count;
                    *out++ = MCF_CLAMP(avg, a->act_min, a->act_max);
                }
            }
        }
    }
}
