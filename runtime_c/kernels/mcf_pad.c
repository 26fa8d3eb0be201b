/* Padding of up to MCF_MAX_DIMS dims, any element size: walk the output; where the index falls
 * outside the input, MCF_PAD_CONSTANT writes the fill element, MCF_PAD_EDGE reads the nearest
 * border element and MCF_PAD_REFLECT its mirror image (border not repeated; pads < dim). */
#include <string.h>

#include "mcf_kernels.h"

static int32_t mcf_pad_source(int32_t j, int32_t n, int32_t mode)
{
    if (mode == MCF_PAD_EDGE) {
        return j < 0 ? 0 : (j >= n ? n - 1 : j);
    }
    /* MCF_PAD_REFLECT */
    if (j < 0) {
        return -j;
    }
    return j >= n ? 2 * (n - 1) - j : j;
}

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
            int32_t j = idx[d] - a->pad_before[d];
            if (j < 0 || j >= a->in_shape[d]) {
                if (a->mode == MCF_PAD_CONSTANT) {
                    inside = 0;
                    break;
                }
                j = mcf_pad_source(j, a->in_shape[d], a->mode);
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
