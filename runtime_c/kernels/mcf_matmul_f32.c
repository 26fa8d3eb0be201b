/* float32 batched matrix product of two variable tensors; batch broadcasting is resolved at
 * compile time into per-batch offsets. */
#include "mcf_kernels.h"

void mcf_matmul_f32(const mcf_matmul_f32_args *a, const float *in1, const float *in2, float *out)
{
    for (int32_t b = 0; b < a->batches; ++b) {
        const float *x = in1 + a->a_offsets[b];
        const float *y = in2 + a->b_offsets[b];
        for (int32_t i = 0; i < a->m; ++i) {
            for (int32_t j = 0; j < a->n; ++j) {
                float acc = 0.0f;
                for (int32_t k = 0; k < a->k; ++k) {
                    acc += x[i * a->k + k] * y[k * a->n + j];
                }
                *out++ = acc;
            }
        }
    }
}
