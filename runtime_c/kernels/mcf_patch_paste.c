/* One patch of a patch-based stage written into the whole feature map (see mcf_kernels.h). */
#include <string.h>

#include "mcf_kernels.h"

void mcf_patch_paste(const mcf_patch_paste_args *a, const void *prev, const void *patch, void *out)
{
    uint8_t *dst = (uint8_t *)out;
    const uint8_t *src = (const uint8_t *)patch;
    if (prev != NULL && prev != out) {
        memmove(dst, prev, (size_t)a->total_bytes);
    }
    dst += a->dst_offset;
    for (int32_t r = 0; r < a->rows; ++r) {
        memcpy(dst, src, (size_t)a->row_bytes);
        dst += a->dst_stride;
        src += a->row_bytes;
    }
}
