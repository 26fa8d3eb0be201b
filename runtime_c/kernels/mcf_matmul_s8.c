/* int8 batched matrix product of two tensors with TFLite BATCH_MATMUL's arithmetic: the int32 sum
 * of zero-point-corrected products, requantized once. Batch broadcasting is resolved at compile
 * time into per-batch offsets; the compiler refuses k for which the int32 sum could overflow. */
#include "mcf_arith.h"
#include "mcf_kernels.h"

void mcf_matmul_s8(const mcf_matmul_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    for (int32_t b = 0; b < a->batches; ++b) {
        const int8_t *x = in1 + a->a_offsets[b];
        const int8_t *y = in2 + a->b_offsets[b];
        for (int32_t i = 0; i < a->m; ++i) {
            for (int32_t j = 0; j < a->n; ++j) {
                int32_t acc = 0;
                for (int32_t k = 0; k < a->k; ++k) {
                    acc += ((int32_t)x[i * a->k + k] - a->a_zp) * ((int32_t)y[k * a->n + j] - a->b_zp);
                }
                const int32_t v = mcf_requantize(acc, a->mult, a->shift) + a->out_zp;
                *out++ = mcf_sat_s8(v, a->act_min, a->act_max);
            }
        }
    }
}
