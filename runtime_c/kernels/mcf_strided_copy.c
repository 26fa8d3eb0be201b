/* Dense copy of a strided view of the input (slice, split, evenly spaced gather, broadcast,
 * tile): walk the output in order, copy run_bytes per position, and step the input offset by the
 * view's byte strides (negative for reversed axes, zero for broadcast ones). */
#include <string.h>

#include "mcf_kernels.h"
#include "mcf_odometer.h"

void mcf_strided_copy(const mcf_strided_copy_args *a, const void *in, void *out)
{
    int32_t idx[MCF_MAX_DIMS] = {0};
    int32_t total = 1;
    for (int32_t d = 0; d < a->rank; ++d) {
        total *= a->out_shape[d];
    }
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    const size_t run = (size_t)a->run_bytes;
    int32_t off = a->in_offset;
    for (int32_t i = 0; i < total; ++i) {
        memcpy(dst, src + off, run);
        dst += run;
        off += mcf_odometer_step(idx, a->out_shape, a->in_strides, a->rank);
    }
}
