/*
 * mcf_arith_s16.h - the integer arithmetic of TFLite's 16x8 scheme (int16 activations, int8
 * weights, int64 bias), written once.
 *
 * Must agree bit for bit with compiler/mcuforge/reference/int16_arith.py (the golden model).
 */
#ifndef MCF_ARITH_S16_H
#define MCF_ARITH_S16_H

#include <stdint.h>

#include "mcf_arith.h"

/* The 64-bit requantization: the Q31 multiplier rounded to Q15, then one rounding right shift
 * of x * reduced (ties toward +infinity). |x| < 2^47 and shift <= 7 (proved at compile time), so
 * the product stays below 2^62. */
static inline int32_t mcf_requantize_s64(int64_t x, int32_t multiplier, int32_t shift)
{
    const int64_t reduced = multiplier < 0x7FFF0000 ? (int64_t)((multiplier + (1 << 15)) >> 16) : 0x7FFF;
    const int32_t total = 15 - shift;
    return (int32_t)((x * reduced + ((int64_t)1 << (total - 1))) >> total);
}

static inline int16_t mcf_sat_s16(int32_t x, int32_t lo, int32_t hi)
{
    return (int16_t)MCF_CLAMP(x, lo, hi);
}

/* One output channel c of a 16x8 weighted layer from its sum of x * w: plus the int64 bias and the
 * 64-bit requantization, or (an int32 bias) TFLite's int32 accumulation, which the compiler proved
 * never wraps, with the Q31 requantization; then the fused clamp. */
static inline int16_t mcf_requant_s16(int64_t acc, const int64_t *bias64, const int32_t *bias32, int32_t c,
                                      const int32_t *mult, const int32_t *shift, int32_t lo, int32_t hi)
{
    int32_t y;
    if (bias32) {
        y = mcf_requantize((int32_t)(acc + bias32[c]), mult[c], shift[c]);
    } else {
        y = mcf_requantize_s64(acc + (bias64 ? bias64[c] : 0), mult[c], shift[c]);
    }
    return mcf_sat_s16(y, lo, hi);
}

#endif /* MCF_ARITH_S16_H */
