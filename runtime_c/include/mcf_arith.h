/*
 * mcf_arith.h - the integer arithmetic of the int8 contract, written once.
 *
 * Must agree bit for bit with compiler/mcuforge/reference/arith.py (the golden model):
 * TFLite's requantization with a Q31 multiplier and a power-of-two shift, computed as a
 * saturating rounding doubling high multiply followed by a rounding divide by a power of two.
 */
#ifndef MCF_ARITH_H
#define MCF_ARITH_H

#include <stdint.h>

/* A library compiled with requant="single" carries mcf_config.h defining MCF_SINGLE_ROUNDING 1. */
#if defined(__has_include)
#if __has_include("mcf_config.h")
#include "mcf_config.h"
#endif
#endif
#ifndef MCF_SINGLE_ROUNDING
#define MCF_SINGLE_ROUNDING 0
#endif

/* The two roundings in the 32-bit forms of the optimized kernels (mcf_fast_requant.h, the tuned
 * add), which split x * m * 2^-(31+e) into a high product and a rounding shift by e >= 1:
 *   double (TFLite): high = floor((x m + 2^30) / 2^31) rounded, then (high + 2^(e-1) - [x < 0]) >> e;
 *   single:          high = floor(x m / 2^31) floored, then (high + 2^(e-1)) >> e, which is
 *                    floor(x m / 2^(31+e) + 1/2) exactly (nested floors of integer divisions).
 * MCF_RQ_HIGH_ROUND: 1 where the high product is rounded; MCF_RQ_NEG(x): the away-from-zero term. */
#if MCF_SINGLE_ROUNDING
#define MCF_RQ_HIGH_ROUND 0
#define MCF_RQ_NEG(x) 0
#else
#define MCF_RQ_HIGH_ROUND 1
#define MCF_RQ_NEG(x) ((x) >> 31)
#endif

#define MCF_MAX(a, b) ((a) > (b) ? (a) : (b))
#define MCF_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MCF_CLAMP(x, lo, hi) MCF_MIN(MCF_MAX((x), (lo)), (hi))

/* (a * b * 2) >> 32 rounded to nearest; INT32_MIN * INT32_MIN saturates to INT32_MAX. */
static inline int32_t mcf_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? (1LL << 30) : (1 - (1LL << 30));
    /* C division truncates toward zero, which is what the rule asks for */
    return (int32_t)((ab + nudge) / (1LL << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero (0 <= exponent <= 31). */
static inline int32_t mcf_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)((1LL << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^(shift - 31), rounded: TFLite's MultiplyByQuantizedMultiplier. With
 * MCF_SINGLE_ROUNDING (mcf_config.h, written for a model compiled with requant="single"): one
 * rounding of the exact product, floor(x * multiplier / 2^(31 - shift) + 1/2). */
static inline int32_t mcf_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    /* shift through uint32 so that an overflowing left shift wraps instead of being undefined */
    const int32_t shifted = (int32_t)((uint32_t)x << left);
#if MCF_SINGLE_ROUNDING
    const int32_t n = 31 + right;
    return (int32_t)(((int64_t)shifted * multiplier + ((int64_t)1 << (n - 1))) >> n);
#else
    return mcf_rounding_divide_by_pot(mcf_srdhm(shifted, multiplier), right);
#endif
}

static inline int8_t mcf_sat_s8(int32_t x, int32_t lo, int32_t hi)
{
    return (int8_t)MCF_CLAMP(x, lo, hi);
}

#endif /* MCF_ARITH_H */
