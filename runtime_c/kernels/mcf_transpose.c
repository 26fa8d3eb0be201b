/* Transpose of up to MCF_MAX_DIMS dims, any element size: walk the output in order and follow
 * the permuted input strides. */
#include <string.h>

#include "mcf_kernels.h"

void mcf_transpose(const mcf_transpose_args *a, const void *in, void *out)
{
    int32_t idx[MCF_MAX_DIMS] = {0};
    int32_t total = 1;
    for (int32_t d = 0; d < a->rank; ++d) {
        total *= a->out_shape[d];
    }
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    int32_t off = 0;
    for (int32_t i = 0; i < total; ++i) {
        memcpy(dst + (size_t)i * a->elem_size, src + (size_t)off * a->elem_size, (size_t)a->elem_size);
        for (int32_t d = a->rank - 1; d >= 0; --d) {
            idx[d] += 1;
            off += a->in_strides[d];
            if (idx[d] < a->out_shape[d]) {
                break;
            }
            off -= a->in_strides[d] * a->out_shape[d];
            idx[d] = 0;
        }
    }
}
