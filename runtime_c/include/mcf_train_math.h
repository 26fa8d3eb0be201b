/*
 * mcf_train_math.h - exp and log of the training step in plain float32 operations.
 *
 * The C twin of compiler/mcuforge/train/fmath.py (exp_f, log_f): the same constants (written
 * here as hexadecimal literals of the float32 values, so no decimal conversion can differ) and
 * the same float32 operations in the same order; compiled with -ffp-contract=off it gives the
 * golden model's bits. libm's expf/logf are not used (newlib and numpy round differently).
 * Domains: exp for x <= 0 (z - max z), clamped below at -80; log for normal x > 0.
 */
#ifndef MCF_TRAIN_MATH_H
#define MCF_TRAIN_MATH_H

#include <stdint.h>

typedef union {
    float f;
    uint32_t u;
} mcf_f32_bits;

static inline float mcf_train_expf(float x)
{
    static const float P[6] = {0x1.a0d2cep-13f, 0x1.6e879cp-10f, 0x1.111210p-7f,
                               0x1.555382p-5f, 0x1.555554p-3f, 0x1.000000p-1f};
    const float ln2_hi = 0x1.63p-1f, ln2_lo = -0x1.bd0106p-13f;
    x = x < -80.0f ? -80.0f : x;
    const float t = x * 0x1.715476p+0f;
    const int32_t k = (int32_t)(t - 0.5f);
    const float kf = (float)k;
    float r = x - kf * ln2_hi;
    r = r - kf * ln2_lo;
    float p = P[0];
    for (int i = 1; i < 6; ++i) {
        p = p * r;
        p = p + P[i];
    }
    const float z = r * r;
    float y = p * z;
    y = y + r;
    y = y + 1.0f;
    mcf_f32_bits s;
    s.u = (uint32_t)(k + 127) << 23;
    return y * s.f;
}

static inline float mcf_train_logf(float x)
{
    static const float P[9] = {0x1.204376p-4f, -0x1.d7a370p-4f, 0x1.de4a34p-4f, -0x1.fcba9ep-4f,
                               0x1.23d37ep-3f, -0x1.555ca0p-3f, 0x1.999d58p-3f, -0x1.fffff8p-3f,
                               0x1.555554p-2f};
    const float ln2_hi = 0x1.63p-1f, ln2_lo = -0x1.bd0106p-13f;
    mcf_f32_bits b;
    b.f = x;
    int32_t e = (int32_t)((b.u >> 23) & 0xffu) - 126;     /* x = m 2^e, m in [0.5, 1) */
    b.u = (b.u & 0x007fffffu) | 0x3f000000u;
    const float m = b.f;
    float v;
    if (m < 0x1.6a09e6p-1f) {
        e -= 1;
        v = (m + m) - 1.0f;
    } else {
        v = m - 1.0f;
    }
    const float z = v * v;
    float p = P[0];
    for (int i = 1; i < 9; ++i) {
        p = p * v;
        p = p + P[i];
    }
    float y = p * v;
    y = y * z;
    const float ef = (float)e;
    y = y + ef * ln2_lo;
    y = y - 0.5f * z;
    float r = v + y;
    r = r + ef * ln2_hi;
    return r;
}

#endif /* MCF_TRAIN_MATH_H */
