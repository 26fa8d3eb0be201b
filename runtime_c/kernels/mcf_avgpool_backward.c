/* Average-pool backward (avgpool_grad), reference version, gathered per input element: each
 * window's gradient divided by its count, the windows holding the element added in the order of
 * the tap (ky ascending, kx ascending) that lands on it, from 0.0f (see mcf_train.h). */
#include "mcf_train.h"
#include "mcf_window.h"

static int32_t window_count(const mcf_pool_grad_args *a, int32_t oy, int32_t ox)
{
    const mcf_window *w = &a->win;
    return mcf_pool_count(w, a->count_include_pad, mcf_window_rows(w, oy).n * mcf_window_cols(w, ox).n);
}

void mcf_avgpool_backward(const mcf_pool_grad_args *a, const float *dy, float *dx)
{
    const mcf_window *w = &a->win;
    for (int32_t n = 0; n < w->batch; ++n) {
        for (int32_t iy = 0; iy < w->in_h; ++iy) {
            for (int32_t ix = 0; ix < w->in_w; ++ix) {
                float *out = dx + (((size_t)n * w->in_h + iy) * w->in_w + ix) * w->in_c;
                for (int32_t c = 0; c < w->in_c; ++c) {
                    out[c] = 0.0f;
                }
                for (int32_t ky = 0; ky < w->k_h; ++ky) {
                    int32_t oy, ox;
                    if (!mcf_tap_source(iy, w->pad_top, ky, w->dil_h, w->stride_h, w->out_h, &oy)) {
                        continue;
                    }
                    for (int32_t kx = 0; kx < w->k_w; ++kx) {
                        if (!mcf_tap_source(ix, w->pad_left, kx, w->dil_w, w->stride_w, w->out_w, &ox)) {
                            continue;
                        }
                        const float count = (float)window_count(a, oy, ox);
                        const float *d = dy + (((size_t)n * w->out_h + oy) * w->out_w + ox) * w->in_c;
                        for (int32_t c = 0; c < w->in_c; ++c) {
                            out[c] = out[c] + d[c] / count;
                        }
                    }
                }
            }
        }
    }
}
