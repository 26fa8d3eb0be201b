/* int8 fully connected layer, per-output-channel requantization, reference version. */
#include "mcf_arith.h"
#include "mcf_kernels.h"

void mcf_fully_connected_s8(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out)
{
    for (int32_t r = 0; r < a->rows; ++r) {
        const int8_t *x = in + (size_t)r * a->in_features;
        for (int32_t o = 0; o < a->out_features; ++o) {
            const int8_t *wrow = mcf_weight_row(a->weights, a->weights_head, a->head_rows, o, (size_t)a->in_features);
            int32_t acc = a->bias ? a->bias[o] : 0;
            for (int32_t k = 0; k < a->in_features; ++k) {
                acc += ((int32_t)x[k] - a->rq.in_zp) * (int32_t)wrow[k];
            }
            acc = mcf_requantize(acc, a->rq.mult[o], a->rq.shift[o]) + a->rq.out_zp;
            *out++ = mcf_sat_s8(acc, a->rq.act_min, a->rq.act_max);
        }
    }
}
