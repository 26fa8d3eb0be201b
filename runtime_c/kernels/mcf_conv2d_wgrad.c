/* Weight gradient of a (grouped or depthwise) convolution, reference version: one float32
 * accumulator per weight, adding the batch and output pixels in order (see mcf_train.h). */
#include "mcf_train.h"

void mcf_conv2d_wgrad(const mcf_conv_grad_args *a, const mcf_fsrc *x, const float *dy, float *dw)
{
    const mcf_window *w = &a->win;
    const int32_t in_per_group = w->in_c / a->groups;
    const int32_t out_per_group = w->out_c / a->groups;
    for (int32_t oc = a->row0; oc < a->out_rows; ++oc) {
        const int32_t ic0 = (oc / out_per_group) * in_per_group;
        for (int32_t ky = 0; ky < w->k_h; ++ky) {
            for (int32_t kx = 0; kx < w->k_w; ++kx) {
                for (int32_t icg = 0; icg < in_per_group; ++icg) {
                    float acc = 0.0f;
                    for (int32_t n = 0; n < w->batch; ++n) {
                        for (int32_t oy = 0; oy < w->out_h; ++oy) {
                            const int32_t iy = oy * w->stride_h - w->pad_top + ky * w->dil_h;
                            if (iy < 0 || iy >= w->in_h) {
                                continue;
                            }
                            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                                const int32_t ix = ox * w->stride_w - w->pad_left + kx * w->dil_w;
                                if (ix < 0 || ix >= w->in_w) {
                                    continue;
                                }
                                const size_t xi = (((size_t)n * w->in_h + iy) * w->in_w + ix) * w->in_c + ic0 + icg;
                                const size_t yi = (((size_t)n * w->out_h + oy) * w->out_w + ox) * w->out_c + oc;
                                acc += dy[yi] * mcf_fsrc_at(x, xi);
                            }
                        }
                    }
                    *dw++ = acc;
                }
            }
        }
    }
}
