/* Constant padding of up to MCF_MAX_DIMS dims, any element size: walk the output, copy where
 * the index falls inside the input, fill elsewhere. */
#include <string.h>

#include "mcf_kernels.h"

void mcf_pad(const mcf_pad_args *a, const void *in, void *out)
{
    int32_t idx[MCF_MAX_DIMS] = {0};
    int32_t in_strides[MCF_MAX_DIMS];
    int32_t total = 1;
    int32_t stride = 1;
    for (int32_t d = a->rank - 1; d >= 0; --d) {
        in_strides[d] = stride;
        stride *= a->in_shape[d];
        total *= a->out_shape[d];
    }
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    for (int32_t i = 0; i < total; ++i) {
        int32_t off = 0;
        int32_t inside = 1;
        for (int32_t d = 0; d < a->rank; ++d) {
            const int32_t j = idx[d] - a->pad_before[d];
            if (j < 0 || j >= a->in_shape[d]) {
                inside = 0;
                break;
            }
            off += j * in_strides[d];
        }
        const void *from = inside ? (const void *)(src + (size_t)off * a->elem_size) : a->fill;
        memcpy(dst + (size_t)i * a->elem_size, from, (size_t)a->elem_size);
        for (int32_t d = a->rank - 1; d >= 0; --d) {
            if (++idx[d] < a->out_shape[d]) {
                break;
            }
            idx[d] = 0;
        }
    }
}
