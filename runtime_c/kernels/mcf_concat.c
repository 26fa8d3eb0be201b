/* Concatenation along one axis: for each index before the axis, copy each input's chunk. */
#include <string.h>

#include "mcf_kernels.h"

void mcf_concat(const mcf_concat_args *a, const void *const *inputs, void *out)
{
    uint8_t *dst = (uint8_t *)out;
    for (int32_t o = 0; o < a->outer; ++o) {
        for (int32_t k = 0; k < a->n_inputs; ++k) {
            const int32_t n = a->chunk_bytes[k];
            memcpy(dst, (const uint8_t *)inputs[k] + (size_t)o * n, (size_t)n);
            dst += n;
        }
    }
}
