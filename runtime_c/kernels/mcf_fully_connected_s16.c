/* 16x8 fully connected layer, reference version: y[r, o] = requant64(sum_k x[r, k] * W[o, k] +
 * bias[o]) with int64 accumulation (TFLite's FullyConnected for int16 input, int8 weights). */
#include "mcf_arith_s16.h"
#include "mcf_kernels.h"

void mcf_fully_connected_s16(const mcf_fully_connected_s16_args *a, const int16_t *in, int16_t *out)
{
    for (int32_t r = 0; r < a->rows; ++r) {
        const int16_t *x = in + (size_t)r * a->in_features;
        for (int32_t o = 0; o < a->out_features; ++o) {
            const int8_t *wrow = a->weights + (size_t)o * a->in_features;
            int64_t acc = 0;
            for (int32_t k = 0; k < a->in_features; ++k) {
                acc += (int32_t)x[k] * (int32_t)wrow[k];
            }
            *out++ = mcf_requant_s16(acc, a->bias64, a->bias32, o, a->mult, a->shift, a->act_min, a->act_max);
        }
    }
}
