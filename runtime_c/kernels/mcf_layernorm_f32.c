/* float32 layer normalization over rows of n values: (x - mean) / sqrt(var + eps) * gamma + beta. */
#include <math.h>

#include "mcf_kernels.h"

void mcf_layernorm_f32(const mcf_layernorm_f32_args *a, const float *in, float *out)
{
    for (int32_t r = 0; r < a->rows; ++r) {
        const float *x = in + r * a->n;
        float *y = out + r * a->n;
        float sum = 0.0f;
        for (int32_t i = 0; i < a->n; ++i) {
            sum += x[i];
        }
        const float mean = sum / (float)a->n;
        float sq = 0.0f;
        for (int32_t i = 0; i < a->n; ++i) {
            const float d = x[i] - mean;
            sq += d * d;
        }
        const float inv = 1.0f / sqrtf(sq / (float)a->n + a->epsilon);
        for (int32_t i = 0; i < a->n; ++i) {
            const float v = (x[i] - mean) * inv * a->gamma[i];
            y[i] = a->beta ? v + a->beta[i] : v;
        }
    }
}
