/* int16 mean over axes with TFLite Micro's arithmetic: the int32 sum (count < 65536 values of
 * |x| <= 32768, proved at compile time) requantized once by a multiplier holding 1 / count. */
#include "mcf_arith_s16.h"
#include "mcf_kernels.h"
#include "mcf_odometer.h"

void mcf_mean_s16(const mcf_mean_args *a, const int16_t *in, int16_t *out)
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
        int32_t sum = 0;
        for (int32_t i = 0; i < a->count; ++i) {
            sum += in[off];
            off += mcf_odometer_step(red_idx, a->red_shape, a->red_strides, a->n_red);
        }
        sum -= a->in_zp * a->count;
        const int32_t y = mcf_requantize(sum, a->mult, a->shift) + a->out_zp;
        out[o] = mcf_sat_s16(y, -32768, 32767);
        base += mcf_odometer_step(kept_idx, a->kept_shape, a->kept_strides, a->n_kept);
    }
}
