// Fully connected layer y = act(cast(W x + b)). The n_in * n_out products are issued in
// reuse_factor pipeline steps of n_mult multipliers each (the reuse factor trades DSPs for II).
#ifndef MCUFORGE_NNET_DENSE_H
#define MCUFORGE_NNET_DENSE_H

#include "nnet_activation.h"
#include "nnet_product.h"

namespace nnet {

template <class data_T, class res_T, typename CONFIG_T>
void dense(const data_T x[CONFIG_T::n_in], res_T y[CONFIG_T::n_out],
           const typename CONFIG_T::weight_t w[CONFIG_T::n_in * CONFIG_T::n_out * CONFIG_T::w_terms],
           const typename CONFIG_T::bias_t b[CONFIG_T::n_out]) {
    typename CONFIG_T::accum_t acc[CONFIG_T::n_out];
#pragma HLS ARRAY_PARTITION variable=acc complete
    for (unsigned o = 0; o < CONFIG_T::n_out; o++) {
#pragma HLS UNROLL
        acc[o] = b[o];
    }
    // weights are [n_out][n_in]; step r handles products r, r + reuse, r + 2 * reuse, ...
    for (unsigned r = 0; r < CONFIG_T::reuse_factor; r++) {
#pragma HLS PIPELINE II=1
        for (unsigned m = 0; m < CONFIG_T::n_mult; m++) {
#pragma HLS UNROLL
            const unsigned idx = r + m * CONFIG_T::reuse_factor;
            acc[idx / CONFIG_T::n_in] += product<data_T, CONFIG_T>(x[idx % CONFIG_T::n_in], w, idx);
        }
    }
    for (unsigned o = 0; o < CONFIG_T::n_out; o++) {
#pragma HLS UNROLL
        y[o] = activate<res_T, CONFIG_T>(res_T(channel_shift<CONFIG_T>::run(acc[o], o)));
    }
}

}  // namespace nnet
#endif
