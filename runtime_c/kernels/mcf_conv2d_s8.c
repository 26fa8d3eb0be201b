/* int8 2-D convolution, any groups, reference version: one output at a time, padding skipped
 * (equivalent to padding with the input zero point). */
#include "mcf_arith.h"
#include "mcf_kernels.h"

void mcf_conv2d_s8(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t in_per_group = w->in_c / a->groups;
    const int32_t out_per_group = w->out_c / a->groups;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const int32_t iy0 = oy * w->stride_h - w->pad_top;
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                const int32_t ix0 = ox * w->stride_w - w->pad_left;
                for (int32_t oc = 0; oc < w->out_c; ++oc) {
                    const int32_t ic0 = (oc / out_per_group) * in_per_group;
                    const int8_t *filt = mcf_weight_row(a->weights, a->weights_head, a->head_rows, oc,
                                                        (size_t)w->k_h * w->k_w * in_per_group);
                    int32_t acc = a->bias ? a->bias[oc] : 0;
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
                            const int8_t *px = in_n + ((size_t)iy * w->in_w + ix) * w->in_c + ic0;
                            const int8_t *fk = filt + ((size_t)ky * w->k_w + kx) * in_per_group;
                            for (int32_t ic = 0; ic < in_per_group; ++ic) {
                                acc += ((int32_t)px[ic] - a->rq.in_zp) * (int32_t)fk[ic];
                            }
                        }
                    }
                    acc = mcf_requantize(acc, a->rq.mult[oc], a->rq.shift[oc]) + a->rq.out_zp;
                    *out++ = mcf_sat_s8(acc, a->rq.act_min, a->rq.act_max);
                }
            }
        }
    }
}
