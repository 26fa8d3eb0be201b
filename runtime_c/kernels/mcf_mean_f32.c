/* float32 mean over axes. */
#include "mcf_kernels.h"
#include "mcf_odometer.h"

void mcf_mean_f32(const mcf_mean_args *a, const float *in, float *out)
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
        float sum = 0.0f;
        for (int32_t i = 0; i < a->count; ++i) {
            sum += in[off];
            off += mcf_odometer_step(red_idx, a->red_shape, a->red_strides, a->n_red);
        }
        out[o] = sum / (float)a->count;
        base += mcf_odometer_step(kept_idx, a->kept_shape, a->kept_strides, a->n_kept);
    }
}
