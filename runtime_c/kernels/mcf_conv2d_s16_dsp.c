/* 16x8 2-D convolution, any groups, on the DSP extension. Per output pixel (and group) the window
 * is gathered once into the layer's arena scratch as one run of K = KH * KW * Cin/groups int16
 * values (zeros where it hangs over the border: TFLite skips those taps, which adds the same
 * nothing); then every output channel is one dot product of length K with SMLALD, two channels
 * at a time (weights reordered at compile time over K, mcf_dsp_s16.h). Same integer sum, bias
 * and requantization as mcf_conv2d_s16, so the same bytes. */
#include <string.h>

#include "mcf_arith_s16.h"
#include "mcf_dsp_s16.h"
#include "mcf_kernels.h"

void mcf_conv2d_s16_dsp(const mcf_conv2d_s16_args *a, const int16_t *in, int16_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t cg = w->in_c / a->groups;
    const int32_t out_per_group = w->out_c / a->groups;
    const int32_t k_len = w->k_h * w->k_w * cg;
    int16_t *col = (int16_t *)a->scratch;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int16_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const int32_t iy0 = oy * w->stride_h - w->pad_top;
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                const int32_t ix0 = ox * w->stride_w - w->pad_left;
                for (int32_t g = 0; g < a->groups; ++g) {
                    int16_t *dst = col;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = iy0 + ky * w->dil_h;
                        for (int32_t kx = 0; kx < w->k_w; ++kx, dst += cg) {
                            const int32_t ix = ix0 + kx * w->dil_w;
                            if (iy < 0 || iy >= w->in_h || ix < 0 || ix >= w->in_w) {
                                memset(dst, 0, (size_t)cg * sizeof(int16_t));
                            } else {
                                memcpy(dst, in_n + ((size_t)iy * w->in_w + ix) * w->in_c + (size_t)g * cg,
                                       (size_t)cg * sizeof(int16_t));
                            }
                        }
                    }
                    const int32_t oc0 = g * out_per_group, oc_end = oc0 + out_per_group;
                    int32_t oc = oc0;
                    for (; oc + 2 <= oc_end; oc += 2) {
                        int64_t acc0 = 0, acc1 = 0;
                        mcf_dot2_s16_s8_dsp(col, a->weights + (size_t)oc * k_len, a->weights + (size_t)(oc + 1) * k_len,
                                            k_len, &acc0, &acc1);
                        out[oc] = mcf_requant_s16(acc0, a->bias64, a->bias32, oc, a->mult, a->shift, a->act_min, a->act_max);
                        out[oc + 1] = mcf_requant_s16(acc1, a->bias64, a->bias32, oc + 1, a->mult, a->shift, a->act_min, a->act_max);
                    }
                    if (oc < oc_end) {
                        const int64_t acc = mcf_dot_s16_s8_dsp(col, a->weights + (size_t)oc * k_len, k_len, 0);
                        out[oc] = mcf_requant_s16(acc, a->bias64, a->bias32, oc, a->mult, a->shift, a->act_min, a->act_max);
                    }
                }
                out += w->out_c;
            }
        }
    }
}
