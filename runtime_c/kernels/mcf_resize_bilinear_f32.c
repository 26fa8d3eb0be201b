/* float32 bilinear resize from compile-time row / column tables and weights. */
#include "mcf_kernels.h"

void mcf_resize_bilinear_f32(const mcf_resize_bilinear_f32_args *a, const float *in, float *out)
{
    const int32_t c_n = a->channels;
    const int32_t row = a->in_w * c_n;
    for (int32_t n = 0; n < a->batch; ++n) {
        const float *in_n = in + (size_t)n * a->in_h * row;
        for (int32_t oy = 0; oy < a->out_h; ++oy) {
            const float *r0 = in_n + (size_t)a->y0[oy] * row;
            const float *r1 = in_n + (size_t)a->y1[oy] * row;
            const float wy1 = a->wy[oy], wy0 = 1.0f - wy1;
            for (int32_t ox = 0; ox < a->out_w; ++ox) {
                const float wx1 = a->wx[ox], wx0 = 1.0f - wx1;
                const float w00 = wy0 * wx0, w10 = wy1 * wx0, w01 = wy0 * wx1, w11 = wy1 * wx1;
                const float *p00 = r0 + (size_t)a->x0[ox] * c_n, *p01 = r0 + (size_t)a->x1[ox] * c_n;
                const float *p10 = r1 + (size_t)a->x0[ox] * c_n, *p11 = r1 + (size_t)a->x1[ox] * c_n;
                for (int32_t c = 0; c < c_n; ++c) {
                    *out++ = p00[c] * w00 + p10[c] * w10 + p01[c] * w01 + p11[c] * w11;
                }
            }
        }
    }
}
