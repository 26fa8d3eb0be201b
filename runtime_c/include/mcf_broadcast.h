/*
 * mcf_broadcast.h - walk the output of a broadcasting elementwise op in order, keeping the
 * element offsets of both inputs (an odometer over the output dims, no division per element).
 */
#ifndef MCF_BROADCAST_H
#define MCF_BROADCAST_H

#include "mcf_kernels.h"

typedef struct {
    int32_t idx[MCF_MAX_DIMS];
    int32_t a_off, b_off;
} mcf_bc_iter;

static inline void mcf_bc_begin(mcf_bc_iter *it)
{
    for (int32_t d = 0; d < MCF_MAX_DIMS; ++d) {
        it->idx[d] = 0;
    }
    it->a_off = 0;
    it->b_off = 0;
}

static inline void mcf_bc_next(const mcf_broadcast *bc, mcf_bc_iter *it)
{
    for (int32_t d = bc->rank - 1; d >= 0; --d) {
        it->idx[d] += 1;
        it->a_off += bc->a_strides[d];
        it->b_off += bc->b_strides[d];
        if (it->idx[d] < bc->out_shape[d]) {
            return;
        }
        it->a_off -= bc->a_strides[d] * bc->out_shape[d];
        it->b_off -= bc->b_strides[d] * bc->out_shape[d];
        it->idx[d] = 0;
    }
}

/* out[i] = fn(a, in1[.], in2[.]) over the whole output: one flat loop when the shapes agree,
 * else the odometer. fn is a function (or macro) of the kernel, inlined here. */
#define MCF_BROADCAST_APPLY(fn, a, in1, in2, out)                                   \
    do {                                                                            \
        if ((a)->bc.same_shape) {                                                   \
            for (int32_t i_ = 0; i_ < (a)->bc.size; ++i_) {                         \
                (out)[i_] = fn((a), (in1)[i_], (in2)[i_]);                          \
            }                                                                       \
        } else {                                                                    \
            mcf_bc_iter it_;                                                        \
            mcf_bc_begin(&it_);                                                     \
            for (int32_t i_ = 0; i_ < (a)->bc.size; ++i_) {                         \
                (out)[i_] = fn((a), (in1)[it_.a_off], (in2)[it_.b_off]);            \
                mcf_bc_next(&(a)->bc, &it_);                                        \
            }                                                                       \
        }                                                                           \
    } while (0)

#endif /* MCF_BROADCAST_H */
