/* Fixed-point fully connected layer: exact int32 accumulation, one cast (mcf_fixed.h). */
#include "mcf_fixed.h"

void mcf_fx_dense(const mcf_fx_dense_args *a, const int8_t *in, int8_t *out)
{
    for (int32_t r = 0; r < a->rows; ++r) {
        const int8_t *x = in + (size_t)r * a->in_features;
        for (int32_t o = 0; o < a->out_features; ++o) {
            const int8_t *wo = a->weights + (size_t)o * a->in_features;
            int32_t acc = a->bias ? a->bias[o] : 0;
            for (int32_t i = 0; i < a->in_features; ++i) {
                acc += (int32_t)x[i] * (int32_t)wo[i];
            }
            *out++ = (int8_t)mcf_fx_cast(acc, &a->rq);
        }
    }
}
