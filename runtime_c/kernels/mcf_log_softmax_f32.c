/* float32 log-softmax along one axis (outer x axis x inner layout): x - max - log(sum exp(x - max)). */
#include <math.h>

#include "mcf_kernels.h"

void mcf_log_softmax_f32(const mcf_log_softmax_f32_args *a, const float *in, float *out)
{
    for (int32_t o = 0; o < a->outer; ++o) {
        for (int32_t i = 0; i < a->inner; ++i) {
            const float *x = in + (size_t)o * a->axis_len * a->inner + i;
            float *y = out + (size_t)o * a->axis_len * a->inner + i;
            const float max = mcf_axis_max_f32(x, a->axis_len, a->inner);
            float sum = 0.0f;
            for (int32_t c = 0; c < a->axis_len; ++c) {
                sum += expf(x[c * a->inner] - max);
            }
            const float log_sum = logf(sum);
            for (int32_t c = 0; c < a->axis_len; ++c) {
                y[c * a->inner] = x[c * a->inner] - max - log_sum;
            }
        }
    }
}
