/* float32 -> int8 as TFLite's AffineQuantize (mcf_affine_quantize): round(x / scale) half away
 * from zero in float32, plus the zero point, saturated. */
#include "mcf_affine.h"
#include "mcf_kernels.h"

void mcf_quantize_f32_s8(const mcf_affine_args *a, const float *in, int8_t *out)
{
    for (int32_t i = 0; i < a->size; ++i) {
        out[i] = (int8_t)mcf_affine_quantize(in[i], a->scale, a->zero_point, -128, 127);
    }
}
