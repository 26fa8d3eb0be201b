/* int16 LOGISTIC (TFLite's 16-bit sigmoid): the input rescaled to the table's grid (x * mult,
 * rounding right shift), then linear interpolation in the 256-entry sigmoid(i / 24) table with
 * 9 fractional bits; negative inputs use sigmoid(-x) = 1 - sigmoid(x). Output scale 2^-15. */
#include "mcf_kernels.h"

void mcf_sigmoid_s16(const mcf_sigmoid_s16_args *a, const int16_t *in, int16_t *out)
{
    const int32_t round = a->left_shift > 0 ? (int32_t)1 << (a->left_shift - 1) : 0;
    for (int32_t i = 0; i < a->size; ++i) {
        const int32_t v = ((int32_t)in[i] * a->mult + round) >> a->left_shift;
        const uint32_t mag = (uint32_t)(v < 0 ? -v : v);
        const uint32_t hi = mag >> 9;
        uint32_t r;
        if (hi >= 255) {
            r = (uint32_t)0x7FFF << 10;
        } else {
            const uint32_t lo_val = a->table[hi], hi_val = a->table[hi + 1];
            r = (lo_val << 9) + (mag & 0x1FF) * (hi_val - lo_val);
        }
        r = v >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1;
        out[i] = (int16_t)(r >> 10);
    }
}
