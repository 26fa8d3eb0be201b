/* 16x8 fully connected layer on the DSP extension: two output features at a time share the
 * input loads, each dot product with SMLALD (two int16 x int16 products per instruction into an
 * int64 accumulator; weights reordered at compile time, mcf_dsp_s16.h). Same bytes as
 * mcf_fully_connected_s16. */
#include "mcf_arith_s16.h"
#include "mcf_dsp_s16.h"
#include "mcf_kernels.h"

void mcf_fully_connected_s16_dsp(const mcf_fully_connected_s16_args *a, const int16_t *in, int16_t *out)
{
    const int32_t k_len = a->in_features;
    for (int32_t r = 0; r < a->rows; ++r) {
        const int16_t *x = in + (size_t)r * k_len;
        int32_t o = 0;
        for (; o + 2 <= a->out_features; o += 2) {
            int64_t acc0 = 0, acc1 = 0;
            mcf_dot2_s16_s8_dsp(x, a->weights + (size_t)o * k_len, a->weights + (size_t)(o + 1) * k_len, k_len,
                                &acc0, &acc1);
            out[o] = mcf_requant_s16(acc0, a->bias64, a->bias32, o, a->mult, a->shift, a->act_min, a->act_max);
            out[o + 1] = mcf_requant_s16(acc1, a->bias64, a->bias32, o + 1, a->mult, a->shift, a->act_min, a->act_max);
        }
        if (o < a->out_features) {
            const int64_t acc = mcf_dot_s16_s8_dsp(x, a->weights + (size_t)o * k_len, k_len, 0);
            out[o] = mcf_requant_s16(acc, a->bias64, a->bias32, o, a->mult, a->shift, a->act_min, a->act_max);
        }
        out += a->out_features;
    }
}
