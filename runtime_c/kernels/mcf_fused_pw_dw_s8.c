/* A frozen int8 pointwise (1x1) convolution followed by a depthwise convolution, computed one
 * output row of the depthwise at a time: the pointwise output rows that row needs are computed
 * into `rows` (k_h rows of in_w x hidden channels) and the depthwise reads them there, so the
 * full pointwise output (an inverted residual block's expanded tensor, the largest activation
 * of a MobileNetV2) never exists. Both stages are the portable kernels on windows cut to the
 * rows, so the bytes are exactly those of the two layers run one after the other. */
#include "mcf_kernels.h"
#include "mcf_train.h"

void mcf_fused_pw_dw_s8(const mcf_conv2d_s8_args *pw, const mcf_conv2d_s8_args *dw, const int8_t *in,
                        int8_t *out, int8_t *rows)
{
    const mcf_window *d = &dw->win;
    const int32_t row_in = pw->win.in_w * pw->win.in_c;     /* bytes of one pointwise input row */
    const int32_t row_mid = d->in_w * d->in_c;               /* bytes of one expanded row */
    const int32_t row_out = d->out_w * d->out_c;
    mcf_conv2d_s8_args p1 = *pw;
    p1.win.batch = 1;
    p1.win.in_h = 1;
    p1.win.out_h = 1;
    mcf_conv2d_s8_args d1 = *dw;
    d1.win.batch = 1;
    d1.win.out_h = 1;
    d1.win.stride_h = 1;
    for (int32_t n = 0; n < d->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * d->in_h * row_in;
        for (int32_t oy = 0; oy < d->out_h; ++oy) {
            const int32_t iy0 = oy * d->stride_h - d->pad_top;
            const int32_t iy1 = iy0 + (d->k_h - 1) * d->dil_h;
            const int32_t lo = iy0 < 0 ? 0 : iy0;
            const int32_t hi = iy1 >= d->in_h ? d->in_h - 1 : iy1;
            for (int32_t iy = lo; iy <= hi; ++iy) {
                mcf_conv2d_s8(&p1, in_n + (size_t)iy * row_in, rows + (size_t)(iy - lo) * row_mid);
            }
            d1.win.in_h = hi - lo + 1;
            d1.win.pad_top = lo - iy0;
            mcf_depthwise_conv2d_s8(&d1, rows, out + ((size_t)n * d->out_h + oy) * row_out);
        }
    }
}
