/* Bias gradient (grad_sum): a sum over a run of adjacent axes; and mean_grad, its broadcast back
 * divided by the count (see mcf_train.h). */
#include "mcf_train.h"

void mcf_reduce_sum_f32(const mcf_sum_args *a, const float *in, float *out)
{
    for (int32_t o = 0; o < a->outer; ++o) {
        const float *src = in + (size_t)o * a->mid * a->inner;
        float *dst = out + (size_t)o * a->keep;
        for (int32_t i = 0; i < a->keep; ++i) {
            dst[i] = 0.0f;
        }
        for (int32_t m = 0; m < a->mid; ++m) {
            for (int32_t i = 0; i < a->keep; ++i) {
                dst[i] = dst[i] + src[(size_t)m * a->inner + i];
            }
        }
    }
}

void mcf_broadcast_div_f32(const mcf_sum_args *a, float divisor, const float *in, float *out)
{
    for (int32_t o = 0; o < a->outer; ++o) {
        for (int32_t m = 0; m < a->mid; ++m) {
            for (int32_t i = 0; i < a->inner; ++i) {
                *out++ = in[(size_t)o * a->inner + i] / divisor;
            }
        }
    }
}
