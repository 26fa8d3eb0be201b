// Elementwise add/sub (residual connections): the exact sum at the finer binary point, one cast
// to the output type, then the fused activation. clone copies a tensor read by two layers,
// because a DATAFLOW channel has one producer and one consumer.
#ifndef MCUFORGE_NNET_MERGE_H
#define MCUFORGE_NNET_MERGE_H

#include "nnet_activation.h"

namespace nnet {

template <class a_T, class b_T, class res_T, typename CONFIG_T>
void add(const a_T a[CONFIG_T::n_elem], const b_T b[CONFIG_T::n_elem], res_T y[CONFIG_T::n_elem]) {
    for (unsigned i = 0; i < CONFIG_T::n_elem; i++) {
#pragma HLS PIPELINE II=1
        y[i] = activate<res_T, CONFIG_T>(res_T(a[i] + b[i]));
    }
}

template <class a_T, class b_T, class res_T, typename CONFIG_T>
void subtract(const a_T a[CONFIG_T::n_elem], const b_T b[CONFIG_T::n_elem], res_T y[CONFIG_T::n_elem]) {
    for (unsigned i = 0; i < CONFIG_T::n_elem; i++) {
#pragma HLS PIPELINE II=1
        y[i] = activate<res_T, CONFIG_T>(res_T(a[i] - b[i]));
    }
}

// concat: each of `outer` blocks takes chunk_a elements of a, then chunk_b of b, each cast to the
// output type (inputs on different binary points: res_T's rounding and overflow).
template <class a_T, class b_T, class res_T, typename CONFIG_T>
void concatenate(const a_T a[CONFIG_T::outer * CONFIG_T::chunk_a], const b_T b[CONFIG_T::outer * CONFIG_T::chunk_b],
                 res_T y[CONFIG_T::outer * (CONFIG_T::chunk_a + CONFIG_T::chunk_b)]) {
    for (unsigned o = 0; o < CONFIG_T::outer; o++) {
        for (unsigned j = 0; j < CONFIG_T::chunk_a + CONFIG_T::chunk_b; j++) {
#pragma HLS PIPELINE II=1
            const unsigned k = o * (CONFIG_T::chunk_a + CONFIG_T::chunk_b) + j;
            y[k] = j < CONFIG_T::chunk_a ? res_T(a[o * CONFIG_T::chunk_a + j])
                                         : res_T(b[o * CONFIG_T::chunk_b + j - CONFIG_T::chunk_a]);
        }
    }
}

template <class data_T, unsigned N>
void clone(const data_T x[N], data_T y1[N], data_T y2[N]) {
    for (unsigned i = 0; i < N; i++) {
#pragma HLS PIPELINE II=1
        y1[i] = x[i];
        y2[i] = x[i];
    }
}

}  // namespace nnet
#endif
