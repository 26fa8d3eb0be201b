/* int16 TANH (TFLite's 16-bit tanh = 2 sigmoid(2x) - 1): the input rescaled to the table's grid,
 * linear interpolation in the sigmoid(i / 24) table with 8 fractional bits, recentred and signed
 * by the input's sign. Output scale 2^-15. */
#include "mcf_kernels.h"

void mcf_tanh_s16(const mcf_sigmoid_s16_args *a, const int16_t *in, int16_t *out)
{
    const int32_t round = a->left_shift > 0 ? (int32_t)1 << (a->left_shift - 1) : 0;
    for (int32_t i = 0; i < a->size; ++i) {
        const int32_t v = ((int32_t)in[i] * a->mult + round) >> a->left_shift;
        const uint32_t mag = (uint32_t)(v < 0 ? -v : v);
        const uint32_t hi = mag >> 8;
        int32_t r;
        if (hi >= 255) {
            r = 0xFFFF << 8;
        } else {
            const uint32_t lo_val = a->table[hi], hi_val = a->table[hi + 1];
            r = (int32_t)((lo_val << 8) + (mag & 0xFF) * (hi_val - lo_val));
        }
        r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
        out[i] = (int16_t)(r >> 8);
    }
}
