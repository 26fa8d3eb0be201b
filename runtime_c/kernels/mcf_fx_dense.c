/* Fixed-point fully connected layer: exact int32 accumulation, one cast (mcf_fixed.h); with
 * `codes` (K-hot weights) the products are shifts and adds. */
#include "mcf_fixed.h"

void mcf_fx_dense(const mcf_fx_dense_args *a, const int8_t *in, int8_t *out)
{
    for (int32_t r = 0; r < a->rows; ++r) {
        const int8_t *x = in + (size_t)r * a->in_features;
        for (int32_t o = 0; o < a->out_features; ++o) {
            const int32_t acc = (a->bias ? a->bias[o] : 0)
                + mcf_fx_dot(x, a->weights, a->codes, a->khot, (size_t)o * a->in_features, a->in_features);
            *out++ = (int8_t)mcf_fx_cast(acc, &a->rq);
        }
    }
}
