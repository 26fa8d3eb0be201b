/* float32 -> int16 as TFLite's AffineQuantize (mcf_affine_quantize): round(x / scale) half away
 * from zero in float32, plus the zero point, saturated to int16. */
#include "mcf_affine.h"
#include "mcf_kernels.h"

void mcf_quantize_f32_s16(const mcf_affine_args *a, const float *in, int16_t *out)
{
    for (int32_t i = 0; i < a->size; ++i) {
        out[i] = (int16_t)mcf_affine_quantize(in[i], a->scale, a->zero_point, -32768, 32767);
    }
}
