/* int8 max or min over axes (TFLite REDUCE_MAX / REDUCE_MIN): input and output share one grid,
 * so the result is one of the input bytes. */
#include "mcf_kernels.h"
#include "mcf_odometer.h"

void mcf_reduce_minmax_s8(const mcf_mean_args *a, const int8_t *in, int8_t *out)
{
    int32_t kept_idx[MCF_MAX_DIMS] = {0};
    int32_t out_size = 1;
    for (int32_t d = 0; d < a->n_kept; ++d) {
        out_size *= a->kept_shape[d];
    }
    const int32_t want_max = a->op == MCF_REDUCE_MAX;
    int32_t base = 0;
    for (int32_t o = 0; o < out_size; ++o) {
        int32_t red_idx[MCF_MAX_DIMS] = {0};
        int32_t off = base;
        int8_t acc = in[off];
        off += mcf_odometer_step(red_idx, a->red_shape, a->red_strides, a->n_red);
        for (int32_t i = 1; i < a->count; ++i) {
            const int8_t v = in[off];
            if (want_max ? v > acc : v < acc) {
                acc = v;
            }
            off += mcf_odometer_step(red_idx, a->red_shape, a->red_strides, a->n_red);
        }
        out[o] = acc;
        base += mcf_odometer_step(kept_idx, a->kept_shape, a->kept_strides, a->n_kept);
    }
}
