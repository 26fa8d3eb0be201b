/* float32 sum, max or min over axes (the mean has its own kernel, mcf_mean_f32). */
#include "mcf_kernels.h"
#include "mcf_odometer.h"

void mcf_reduce_f32(const mcf_mean_args *a, const float *in, float *out)
{
    int32_t kept_idx[MCF_MAX_DIMS] = {0};
    int32_t out_size = 1;
    for (int32_t d = 0; d < a->n_kept; ++d) {
        out_size *= a->kept_shape[d];
    }
    int32_t base = 0;
    for (int32_t o = 0; o < out_size; ++o) {
        int32_t red_idx[MCF_MAX_DIMS] = {0};
        int32_t off = base;
        float acc = in[off];
        off += mcf_odometer_step(red_idx, a->red_shape, a->red_strides, a->n_red);
        for (int32_t i = 1; i < a->count; ++i) {
            const float v = in[off];
            if (a->op == MCF_REDUCE_SUM) {
                acc += v;
            } else if (a->op == MCF_REDUCE_MAX) {
                acc = v > acc ? v : acc;
            } else {
                acc = v < acc ? v : acc;
            }
            off += mcf_odometer_step(red_idx, a->red_shape, a->red_strides, a->n_red);
        }
        out[o] = acc;
        base += mcf_odometer_step(kept_idx, a->kept_shape, a->kept_strides, a->n_kept);
    }
}
