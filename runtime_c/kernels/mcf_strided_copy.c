/* Dense copy of a strided view of the input (slice, split, evenly spaced gather, broadcast,
 * tile): walk the output in order and step the input offset by the view's byte strides
 * (negative for reversed axes, zero for broadcast ones). The innermost dim is a tight loop;
 * single bytes (int8 elements) and 4-byte words are copied without a memcpy call each. */
#include <string.h>

#include "mcf_kernels.h"
#include "mcf_odometer.h"

void mcf_strided_copy(const mcf_strided_copy_args *a, const void *in, void *out)
{
    int32_t idx[MCF_MAX_DIMS] = {0};
    const int32_t outer_rank = a->rank > 0 ? a->rank - 1 : 0;
    const int32_t n = a->rank > 0 ? a->out_shape[a->rank - 1] : 1;
    const int32_t step = a->rank > 0 ? a->in_strides[a->rank - 1] : 0;
    int32_t rows = 1;
    for (int32_t d = 0; d < outer_rank; ++d) {
        rows *= a->out_shape[d];
    }
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    const int32_t run = a->run_bytes;
    int32_t off = a->in_offset;
    for (int32_t r = 0; r < rows; ++r) {
        const uint8_t *s = src + off;
        if (run == 1) {
            for (int32_t j = 0; j < n; ++j) {
                dst[j] = *s;
                s += step;
            }
        } else if (run == 4) {
            for (int32_t j = 0; j < n; ++j) {
                memcpy(dst + 4 * j, s, 4);   /* a word move once inlined */
                s += step;
            }
        } else {
            for (int32_t j = 0; j < n; ++j) {
                memcpy(dst + (size_t)run * (size_t)j, s, (size_t)run);
                s += step;
            }
        }
        dst += (size_t)run * (size_t)n;
        off += mcf_odometer_step(idx, a->out_shape, a->in_strides, outer_rank);
    }
}
