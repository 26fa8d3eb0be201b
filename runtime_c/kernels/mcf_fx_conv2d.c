/* Fixed-point 2-D convolution over NHWC (any grouping, depthwise included): exact int32
 * accumulation at F_x + F_w, bias at that binary point, one cast (mcf_fixed.h). Padding is 0.
 * With `codes` (K-hot weights) the products are shifts and adds instead of multiplies. */
#include "mcf_fixed.h"

void mcf_fx_conv2d(const mcf_fx_conv2d_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t cg = w->in_c / a->groups, fg = w->out_c / a->groups;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                for (int32_t oc = 0; oc < w->out_c; ++oc) {
                    const int32_t c0 = (oc / fg) * cg;
                    int32_t acc = a->bias ? a->bias[oc] : 0;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = oy * w->stride_h - w->pad_top + ky * w->dil_h;
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            const int32_t ix = ox * w->stride_w - w->pad_left + kx * w->dil_w;
                            if (iy < 0 || iy >= w->in_h || ix < 0 || ix >= w->in_w) {
                                continue;
                            }
                            const int8_t *px = in_n + ((size_t)iy * w->in_w + ix) * w->in_c + c0;
                            const size_t wi = (((size_t)oc * w->k_h + ky) * w->k_w + kx) * cg;
                            acc += mcf_fx_dot(px, a->weights, a->codes, a->khot, wi, cg);
                        }
                    }
                    *out++ = (int8_t)mcf_fx_cast(acc, &a->rq);
                }
            }
        }
    }
}
