/* int8 bilinear resize with TFLite Micro's integer arithmetic: weights in units of 1/1024, the
 * four products summed at scale 2^20 (the compiler proves the sum fits int32), rounded half away
 * from zero. The raw int8 values are mixed: input and output share one quantization. */
#include "mcf_kernels.h"

void mcf_resize_bilinear_s8(const mcf_resize_bilinear_s8_args *a, const int8_t *in, int8_t *out)
{
    const int32_t c_n = a->channels;
    const int32_t row = a->in_w * c_n;
    for (int32_t n = 0; n < a->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * a->in_h * row;
        for (int32_t oy = 0; oy < a->out_h; ++oy) {
            const int8_t *r0 = in_n + (size_t)a->y0[oy] * row;
            const int8_t *r1 = in_n + (size_t)a->y1[oy] * row;
            const int32_t wy1 = a->wy[oy], wy0 = 1024 - wy1;
            for (int32_t ox = 0; ox < a->out_w; ++ox) {
                const int32_t wx1 = a->wx[ox], wx0 = 1024 - wx1;
                const int32_t w00 = wy0 * wx0, w10 = wy1 * wx0, w01 = wy0 * wx1, w11 = wy1 * wx1;
                const int8_t *p00 = r0 + (size_t)a->x0[ox] * c_n, *p01 = r0 + (size_t)a->x1[ox] * c_n;
                const int8_t *p10 = r1 + (size_t)a->x0[ox] * c_n, *p11 = r1 + (size_t)a->x1[ox] * c_n;
                for (int32_t c = 0; c < c_n; ++c) {
                    const int32_t acc = p00[c] * w00 + p10[c] * w10 + p01[c] * w01 + p11[c] * w11;
                    /* (acc + sign(acc) 2^19) / 2^20 truncated == floor((acc + 2^19 - [acc <= 0]) / 2^20) */
                    *out++ = (int8_t)((acc + (1 << 19) - (acc <= 0)) >> 20);
                }
            }
        }
    }
}
