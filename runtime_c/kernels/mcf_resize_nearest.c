/* Nearest-neighbour resize of NHWC data of any element type: each output pixel copies the input
 * pixel its row and column tables name; an output row that repeats the previous one (integer
 * upsampling) is one copy of that row. */
#include <string.h>

#include "mcf_kernels.h"

void mcf_resize_nearest(const mcf_resize_nearest_args *a, const void *in, void *out)
{
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    const size_t pix = (size_t)a->pixel_bytes;
    const size_t in_row = (size_t)a->in_w * pix;
    const size_t out_row = (size_t)a->out_w * pix;
    for (int32_t n = 0; n < a->batch; ++n) {
        for (int32_t oy = 0; oy < a->out_h; ++oy) {
            if (oy > 0 && a->iy[oy] == a->iy[oy - 1]) {
                memcpy(dst, dst - out_row, out_row);
            } else {
                const uint8_t *row = src + (size_t)a->iy[oy] * in_row;
                for (int32_t ox = 0; ox < a->out_w; ++ox) {
                    memcpy(dst + (size_t)ox * pix, row + (size_t)a->ix[ox] * pix, pix);
                }
            }
            dst += out_row;
        }
        src += (size_t)a->in_h * in_row;
    }
}
