/* Input gradient of a (grouped or depthwise) convolution from OHWI weights, reference version:
 * gathered per input pixel (each dX written once), taps in ky, kx order, then output channels. */
#include "mcf_train.h"

void mcf_conv2d_igrad(const mcf_conv_grad_args *a, const float *dy, const mcf_fsrc *wt, float *dx)
{
    const mcf_window *w = &a->win;
    const int32_t in_per_group = w->in_c / a->groups;
    const int32_t out_per_group = w->out_c / a->groups;
    for (int32_t n = 0; n < w->batch; ++n) {
        for (int32_t iy = 0; iy < w->in_h; ++iy) {
            for (int32_t ix = 0; ix < w->in_w; ++ix) {
                for (int32_t ic = 0; ic < w->in_c; ++ic) {
                    const int32_t g = ic / in_per_group, icg = ic - g * in_per_group;
                    float acc = 0.0f;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        int32_t oy, ox;
                        if (!mcf_tap_source(iy, w->pad_top, ky, w->dil_h, w->stride_h, w->out_h, &oy)) {
                            continue;
                        }
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            if (!mcf_tap_source(ix, w->pad_left, kx, w->dil_w, w->stride_w, w->out_w, &ox)) {
                                continue;
                            }
                            const float *d = dy + (((size_t)n * w->out_h + oy) * w->out_w + ox) * w->out_c;
                            for (int32_t j = 0; j < out_per_group; ++j) {
                                const int32_t oc = g * out_per_group + j;
                                const size_t wi = (((size_t)oc * w->k_h + ky) * w->k_w + kx) * in_per_group + icg;
                                acc += d[oc] * mcf_fsrc_at(wt, wi);
                            }
                        }
                    }
                    *dx++ = acc;
                }
            }
        }
    }
}
