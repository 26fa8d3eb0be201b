/* 16x8 transposed convolution, any groups, reference version. Gathered per output pixel (each
 * output sums only the taps that reach it, mcf_ct_axis); int64 accumulation plus bias and the
 * 64-bit per-channel requantization equal TFLite Micro's scatter-then-requantize int16 kernel. */
#include "mcf_arith_s16.h"
#include "mcf_kernels.h"

void mcf_conv_transpose2d_s16(const mcf_conv2d_s16_args *a, const int16_t *in, int16_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t in_per_group = w->in_c / a->groups;
    const int32_t out_per_group = w->out_c / a->groups;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int16_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const mcf_ct_taps ty = mcf_ct_axis(oy, w->pad_top, w->stride_h, w->dil_h, w->k_h, w->in_h);
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                const mcf_ct_taps tx = mcf_ct_axis(ox, w->pad_left, w->stride_w, w->dil_w, w->k_w, w->in_w);
                for (int32_t oc = 0; oc < w->out_c; ++oc) {
                    const int32_t ic0 = (oc / out_per_group) * in_per_group;
                    const int8_t *filt = a->weights + (size_t)oc * w->k_h * w->k_w * in_per_group;
                    int64_t acc = 0;
                    for (int32_t j = 0; j < ty.n; ++j) {
                        const int32_t ky = ty.k0 + j * ty.kstep, iy = ty.i0 - j * ty.di;
                        for (int32_t i = 0; i < tx.n; ++i) {
                            const int32_t kx = tx.k0 + i * tx.kstep, ix = tx.i0 - i * tx.di;
                            const int16_t *px = in_n + ((size_t)iy * w->in_w + ix) * w->in_c + ic0;
                            const int8_t *fk = filt + ((size_t)ky * w->k_w + kx) * in_per_group;
                            for (int32_t ic = 0; ic < in_per_group; ++ic) {
                                acc += (int32_t)px[ic] * (int32_t)fk[ic];
                            }
                        }
                    }
                    *out++ = mcf_requant_s16(acc, a->bias64, a->bias32, oc, a->mult, a->shift, a->act_min, a->act_max);
                }
            }
        }
    }
}
