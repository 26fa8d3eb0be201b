/* The part of a pooling window that lies inside the input, shared by the pooling kernels. */
#ifndef MCF_POOL_WINDOW_H
#define MCF_POOL_WINDOW_H

#include <stdint.h>

/* Taps [*k0, *k1) of a k-tap window row or column starting at input index i0 (dilation dil) that
 * fall inside 0 .. n - 1: the loops below run a few steps at the borders only, so clipping once
 * per window is cheaper than a bounds test per tap. */
static inline void mcf_taps_inside(int32_t i0, int32_t k, int32_t dil, int32_t n, int32_t *k0, int32_t *k1)
{
    int32_t lo = 0, hi = k;
    while (lo < hi && i0 + lo * dil < 0) {
        ++lo;
    }
    while (hi > lo && i0 + (hi - 1) * dil >= n) {
        --hi;
    }
    *k0 = lo;
    *k1 = hi;
}

#endif
