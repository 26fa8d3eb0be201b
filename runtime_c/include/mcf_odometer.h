/*
 * mcf_odometer.h - step a multi-index through a shape in row-major order while keeping the
 * element offset under arbitrary strides (no division per element).
 */
#ifndef MCF_ODOMETER_H
#define MCF_ODOMETER_H

#include <stdint.h>

/* Advance idx (rank dims) by one; returns the change of the offset. */
static inline int32_t mcf_odometer_step(int32_t *idx, const int32_t *shape, const int32_t *strides, int32_t rank)
{
    int32_t delta = 0;
    for (int32_t d = rank - 1; d >= 0; --d) {
        idx[d] += 1;
        delta += strides[d];
        if (idx[d] < shape[d]) {
            return delta;
        }
        delta -= strides[d] * shape[d];
        idx[d] = 0;
    }
    return delta;
}

#endif /* MCF_ODOMETER_H */
