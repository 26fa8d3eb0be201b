/* Gather along one axis with constant indices: for each index before the axis, copy the inner
 * block of every selected position. */
#include <string.h>

#include "mcf_kernels.h"

void mcf_gather(const mcf_gather_args *a, const void *in, void *out)
{
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    const size_t inner = (size_t)a->inner_bytes;
    for (int32_t o = 0; o < a->outer; ++o) {
        const uint8_t *base = src + (size_t)o * (size_t)a->axis_len * inner;
        for (int32_t k = 0; k < a->n_indices; ++k) {
            memcpy(dst, base + (size_t)a->indices[k] * inner, inner);
            dst += inner;
        }
    }
}
