/* float32 -> int8 as TFLite's AffineQuantize: round(x / scale) half away from zero in float32,
 * plus the zero point, saturated. No libm: the rounding is done on the exact fractional part. */
#include "mcf_kernels.h"

void mcf_quantize_f32_s8(const mcf_affine_args *a, const float *in, int8_t *out)
{
    for (int32_t i = 0; i < a->size; ++i) {
        float q = in[i] / a->scale;
        int32_t v;
        if (!(q > -1024.0f)) {          /* also NaN: TFLite's clamp ends at -128 for any of these */
            v = -1024;
        } else if (q > 1024.0f) {
            v = 1024;
        } else {
            v = (int32_t)q;             /* truncates toward zero */
            const float frac = q - (float)v;   /* exact for |q| < 2^23 */
            if (frac >= 0.5f) {
                v += 1;
            } else if (frac <= -0.5f) {
                v -= 1;
            }
        }
        v += a->zero_point;
        out[i] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
    }
}
