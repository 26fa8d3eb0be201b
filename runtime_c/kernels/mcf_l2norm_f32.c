/* float32 L2 normalization along one axis: x / max(sqrt(sum x^2), eps). */
#include <math.h>

#include "mcf_kernels.h"

void mcf_l2norm_f32(const mcf_l2norm_args *a, const float *in, float *out)
{
    for (int32_t o = 0; o < a->outer; ++o) {
        for (int32_t i = 0; i < a->inner; ++i) {
            const float *x = in + (size_t)o * a->axis_len * a->inner + i;
            float *y = out + (size_t)o * a->axis_len * a->inner + i;
            float sum = 0.0f;
            for (int32_t c = 0; c < a->axis_len; ++c) {
                sum += x[c * a->inner] * x[c * a->inner];
            }
            float norm = sqrtf(sum);
            norm = norm > a->eps ? norm : a->eps;
            for (int32_t c = 0; c < a->axis_len; ++c) {
                y[c * a->inner] = x[c * a->inner] / norm;
            }
        }
    }
}
