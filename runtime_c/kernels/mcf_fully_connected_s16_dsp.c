/* 16x8 fully connected layer on the DSP extension: two output features at a time share the
 * input loads, each dot product with SMLALD (two int16 x int16 products per instruction into an
 * int64 accumulator; weights reordered at compile time, mcf_dsp_s16.h). Same bytes as
 * mcf_fully_connected_s16. */
#include "mcf_arith_s16.h"
#include "mcf_dsp_s16.h"
#include "mcf_kernels.h"

static inline int16_t requant_one(const mcf_fully_connected_s16_args *a, int64_t acc, int32_t o)
{
    int32_t y;
    if (a->bias32) {
        y = mcf_requantize((int32_t)(acc + a->bias32[o]), a->mult[o], a->shift[o]);
    } else {
        y = mcf_requantize_s64(acc + (a->bias64 ? a->bias64[o] : 0), a->mult[o], a->shift[o]);
    }
    return mcf_sat_s16(y, a->act_min, a->act_max);
}

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
            out[o] = requant_one(a, acc0, o);
            out[o + 1] = requant_one(a, acc1, o + 1);
        }
        if (o < a->out_features) {
            out[o] = requant_one(a, mcf_dot_s16_s8_dsp(x, a->weights + (size_t)o * k_len, k_len, 0), o);
        }
        out += a->out_features;
    }
}
