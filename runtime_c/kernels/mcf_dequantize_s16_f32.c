/* int16 -> float32 as TFLite's Dequantize: (q - zp) * scale, one rounding of the exact product. */
#include "mcf_kernels.h"

void mcf_dequantize_s16_f32(const mcf_affine_args *a, const int16_t *in, float *out)
{
    for (int32_t i = 0; i < a->size; ++i) {
        out[i] = (float)((int32_t)in[i] - a->zero_point) * a->scale;
    }
}
