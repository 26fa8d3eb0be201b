/* Fixed-point fully connected layer with K-hot weights (shift-add products): exact int32
 * accumulation, one cast (mcf_fixed.h). */
#include "mcf_fixed.h"

void mcf_fx_dense_khot(const mcf_fx_dense_args *a, const int8_t *in, int8_t *out)
{
    for (int32_t r = 0; r < a->rows; ++r) {
        const int8_t *x = in + (size_t)r * a->in_features;
        for (int32_t o = 0; o < a->out_features; ++o) {
            const uint8_t *wo = a->codes + (size_t)o * a->in_features * a->khot;
            int32_t acc = a->bias ? a->bias[o] : 0;
            for (int32_t i = 0; i < a->in_features; ++i) {
                acc += mcf_fx_khot_product(x[i], wo + i * a->khot, a->khot);
            }
            *out++ = (int8_t)mcf_fx_cast(acc, &a->rq);
        }
    }
}
