/* float32 -> int16 as TFLite's AffineQuantize: round(x / scale) half away from zero in float32,
 * plus the zero point, saturated to int16. No libm: the rounding uses the exact fractional part. */
#include "mcf_kernels.h"

void mcf_quantize_f32_s16(const mcf_affine_args *a, const float *in, int16_t *out)
{
    for (int32_t i = 0; i < a->size; ++i) {
        const float q = in[i] / a->scale;
        int32_t v;
        if (!(q > -65536.0f)) {         /* also NaN: the clamp ends at -32768 for any of these */
            v = -65536;
        } else if (q > 65536.0f) {
            v = 65536;
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
        out[i] = (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
    }
}
