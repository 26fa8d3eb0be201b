/* Nearest-neighbour resize, pixels a multiple of 4 bytes: each pixel is copied as 32-bit words
 * (one LDR / STR each where unaligned access exists) instead of a memcpy call per pixel; an output
 * row that repeats the previous one is still one memcpy. Same bytes as mcf_resize_nearest. */
#include <string.h>

#include "mcf_kernels.h"
#include "mcf_opt.h"

void mcf_resize_nearest_fast(const mcf_resize_nearest_args *a, const void *in, void *out)
{
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    const int32_t words = a->pixel_bytes / 4;
    const size_t in_row = (size_t)a->in_w * (size_t)a->pixel_bytes;
    const size_t out_row = (size_t)a->out_w * (size_t)a->pixel_bytes;
    for (int32_t n = 0; n < a->batch; ++n) {
        for (int32_t oy = 0; oy < a->out_h; ++oy) {
            if (oy > 0 && a->iy[oy] == a->iy[oy - 1]) {
                memcpy(dst, dst - out_row, out_row);
                dst += out_row;
                continue;
            }
            const uint8_t *row = src + (size_t)a->iy[oy] * in_row;
            for (int32_t ox = 0; ox < a->out_w; ++ox) {
                const uint8_t *p = row + (size_t)a->ix[ox] * (size_t)a->pixel_bytes;
                for (int32_t k = 0; k < words; ++k) {
                    mcf_wr32(dst, mcf_rd32(p));
                    dst += 4;
                    p += 4;
                }
            }
        }
        src += (size_t)a->in_h * in_row;
    }
}
