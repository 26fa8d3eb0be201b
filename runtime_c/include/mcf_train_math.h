/*
 * mcf_train_math.h - exp and log in plain float32 operations, for the training kernels.
 *
 * libm's expf/logf may round differently in newlib, glibc and numpy; these two are written with
 * float32 additions and multiplications only (no fused multiply-add: -ffp-contract=off), so
 * compiler/mcuforge/reference/train_math.py repeats them bit for bit. Accuracy: about 2 ulp.
 */
#ifndef MCF_TRAIN_MATH_H
#define MCF_TRAIN_MATH_H

#include <stdint.h>

typedef union {
    float f;
    uint32_t u;
} mcf_f32_bits;

/* e^x for x clamped to [-87, 88]: x = k ln2 + r, |r| <= ln2 / 2, degree-6 Taylor polynomial. */
static inline float mcf_train_expf(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float t = x * 1.44269502f;
    const int32_t k = (int32_t)(t + (t >= 0.0f ? 0.5f : -0.5f));
    const float kf = (float)k;
    const float r = (x - kf * 0.693145751953125f) - kf * 1.42860677e-06f;
    float p = 1.38888889e-03f;
    p = p * r + 8.33333377e-03f;
    p = p * r + 4.16666679e-02f;
    p = p * r + 1.66666672e-01f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    mcf_f32_bits s;
    s.u = (uint32_t)(k + 127) << 23;
    return p * s.f;
}

/* Natural log of a positive normal x: x = m 2^e with m in [sqrt(1/2), sqrt(2)),
 * log m = 2 atanh(s), s = (m - 1) / (m + 1), odd series to s^9. */
static inline float mcf_train_logf(float x)
{
    mcf_f32_bits b;
    b.f = x;
    int32_t e = (int32_t)((b.u >> 23) & 0xffu) - 127;
    b.u = (b.u & 0x7fffffu) | (127u << 23);
    float m = b.f;
    if (m > 1.41421354f) {
        m = m * 0.5f;
        e += 1;
    }
    const float s = (m - 1.0f) / (m + 1.0f);
    const float s2 = s * s;
    float p = 2.22222224e-01f;
    p = p * s2 + 2.85714298e-01f;
    p = p * s2 + 4.00000006e-01f;
    p = p * s2 + 6.66666687e-01f;
    p = p * s2 + 2.0f;
    p = p * s;
    const float ef = (float)e;
    return (ef * 1.42860677e-06f + p) + ef * 0.693145751953125f;
}

#endif /* MCF_TRAIN_MATH_H */
