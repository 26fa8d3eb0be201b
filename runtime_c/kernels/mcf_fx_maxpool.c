/* Fixed-point max pooling over NHWC windows (padding never wins), then the fused clamp; the
 * output keeps the input's type. */
#include "mcf_fixed.h"

void mcf_fx_maxpool(const mcf_fx_maxpool_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                for (int32_t c = 0; c < w->in_c; ++c) {
                    int32_t best = INT32_MIN;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = oy * w->stride_h - w->pad_top + ky * w->dil_h;
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            const int32_t ix = ox * w->stride_w - w->pad_left + kx * w->dil_w;
                            if (iy >= 0 && iy < w->in_h && ix >= 0 && ix < w->in_w) {
                                const int32_t v = in_n[((size_t)iy * w->in_w + ix) * w->in_c + c];
                                best = v > best ? v : best;
                            }
                        }
                    }
                    best = best < a->act_lo ? a->act_lo : (best > a->act_hi ? a->act_hi : best);
                    *out++ = (int8_t)best;
                }
            }
        }
    }
}
