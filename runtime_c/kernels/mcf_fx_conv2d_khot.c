/* Fixed-point 2-D convolution with K-hot weights (shift-add products, mcf_fixed.h) over NHWC
 * (any grouping, depthwise included): exact int32
 * accumulation at F_x + F_w, bias at that binary point, one cast (mcf_fixed.h). Padding is 0. */
#include "mcf_fixed.h"

void mcf_fx_conv2d_khot(const mcf_fx_conv2d_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t cg = w->in_c / a->groups, fg = w->out_c / a->groups;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                for (int32_t oc = 0; oc < w->out_c; ++oc) {
                    const int32_t c0 = (oc / fg) * cg;
                    const uint8_t *wt = a->codes + (size_t)oc * w->k_h * w->k_w * cg * a->khot;
                    int32_t acc = a->bias ? a->bias[oc] : 0;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = oy * w->stride_h - w->pad_top + ky * w->dil_h;
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            const int32_t ix = ox * w->stride_w - w->pad_left + kx * w->dil_w;
                            const uint8_t *wk = wt + ((size_t)ky * w->k_w + kx) * cg * a->khot;
                            if (iy < 0 || iy >= w->in_h || ix < 0 || ix >= w->in_w) {
                                continue;
                            }
                            const int8_t *px = in_n + ((size_t)iy * w->in_w + ix) * w->in_c + c0;
                            for (int32_t ci = 0; ci < cg; ++ci) {
                                acc += mcf_fx_khot_product(px[ci], wk + ci * a->khot, a->khot);
                            }
                        }
                    }
                    *out++ = (int8_t)mcf_fx_cast(acc, &a->rq);
                }
            }
        }
    }
}
