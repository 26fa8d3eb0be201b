/* float32 fully connected layer. */
#include "mcf_arith.h"
#include "mcf_kernels.h"

void mcf_fully_connected_f32(const mcf_fully_connected_f32_args *a, const float *in, float *out)
{
    for (int32_t r = 0; r < a->rows; ++r) {
        const float *x = in + (size_t)r * a->in_features;
        for (int32_t o = 0; o < a->out_features; ++o) {
            const float *wrow = a->weights + (size_t)o * a->in_features;
            float acc = a->bias ? a->bias[o] : 0.0f;
            for (int32_t k = 0; k < a->in_features; ++k) {
                acc += x[k] * wrow[k];
            }
            *out++ = MCF_CLAMP(acc, a->act_min, a->act_max);
        }
    }
}
