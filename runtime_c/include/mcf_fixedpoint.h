/*
 * mcf_fixedpoint.h - Q-format helpers for int8 softmax, matching
 * compiler/mcuforge/reference/fixedpoint.py step for step. A raw int32 with I integer bits
 * stands for raw / 2^(31 - I).
 */
#ifndef MCF_FIXEDPOINT_H
#define MCF_FIXEDPOINT_H

#include "mcf_arith.h"

/* x * 2^exponent with saturation (exponent > 0) or rounding (exponent < 0). */
static inline int32_t mcf_sat_rounding_mul_pot(int32_t x, int32_t exponent)
{
    if (exponent < 0) {
        return mcf_rounding_divide_by_pot(x, -exponent);
    }
    if (exponent == 0) {
        return x;
    }
    const int32_t threshold = (int32_t)((1LL << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

static inline int32_t mcf_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

static inline int32_t mcf_wrap_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t mcf_wrap_sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* 1 / (1 + a) for a in [0, 1), 0 integer bits in and out: three Newton-Raphson steps on the
 * half denominator, starting from 48/17 - 32/17 * d (constants with 2 integer bits). */
static inline int32_t mcf_one_over_one_plus_x(int32_t a)
{
    const int32_t k48_over_17 = 1515870810;      /* round(48/17 * 2^29) */
    const int32_t kneg32_over_17 = -1010580540;  /* round(-32/17 * 2^29) */
    const int32_t one_q2 = 1 << 29;
    const int32_t half_den = mcf_rounding_half_sum(a, INT32_MAX);
    int32_t x = mcf_wrap_add(k48_over_17, mcf_srdhm(half_den, kneg32_over_17));
    for (int i = 0; i < 3; ++i) {
        const int32_t one_minus = mcf_wrap_sub(one_q2, mcf_srdhm(half_den, x));
        x = mcf_wrap_add(x, mcf_sat_rounding_mul_pot(mcf_srdhm(x, one_minus), 2));
    }
    return mcf_sat_rounding_mul_pot(x, 1);
}

/* the largest of n int8 values `stride` apart (a softmax row along any axis) */
static inline int32_t mcf_strided_max_s8(const int8_t *x, int32_t n, int32_t stride)
{
    int32_t max = -128;
    for (int32_t c = 0; c < n; ++c) {
        max = MCF_MAX(max, (int32_t)x[c * stride]);
    }
    return max;
}

static inline int32_t mcf_clz32(uint32_t x)
{
    if (x == 0) {
        return 32;
    }
    return __builtin_clz(x);
}

#endif /* MCF_FIXEDPOINT_H */
