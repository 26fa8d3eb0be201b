/*
 * mcf_affine.h - float32 to integer as TFLite's AffineQuantize, written once for the int8 and
 * int16 quantize kernels.
 */
#ifndef MCF_AFFINE_H
#define MCF_AFFINE_H

#include <stdint.h>

/* round(x / scale) half away from zero in float32, plus the zero point, saturated to [lo, hi].
 * No libm: q is first limited to +-65536 (beyond every int8 and int16 result whatever the zero
 * point; NaN takes the low end, where TFLite's clamp ends too), then rounded on its fractional
 * part, which is exact for |q| < 2^23. */
static inline int32_t mcf_affine_quantize(float x, float scale, int32_t zero_point, int32_t lo, int32_t hi)
{
    const float q = x / scale;
    int32_t v;
    if (!(q > -65536.0f)) {
        v = -65536;
    } else if (q > 65536.0f) {
        v = 65536;
    } else {
        v = (int32_t)q;                    /* truncates toward zero */
        const float frac = q - (float)v;
        if (frac >= 0.5f) {
            v += 1;
        } else if (frac <= -0.5f) {
            v -= 1;
        }
    }
    v += zero_point;
    return v < lo ? lo : (v > hi ? hi : v);
}

#endif /* MCF_AFFINE_H */
