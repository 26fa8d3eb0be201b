// Fused activations (relu, relu6, any clamp) as bounds in the output's own grid, applied after
// the accumulator has been cast to the output type: the same order as the golden model.
#ifndef MCUFORGE_NNET_ACTIVATION_H
#define MCUFORGE_NNET_ACTIVATION_H

namespace nnet {

template <class res_T, typename CONFIG_T>
inline res_T activate(res_T y) {
#pragma HLS INLINE
    if (CONFIG_T::clamp_lo && y < res_T(CONFIG_T::act_lo)) y = res_T(CONFIG_T::act_lo);
    if (CONFIG_T::clamp_hi && y > res_T(CONFIG_T::act_hi)) y = res_T(CONFIG_T::act_hi);
    return y;
}

// A relu/clip that could not be fused into its producer: same type in and out.
template <class data_T, class res_T, typename CONFIG_T>
void clamp(const data_T x[CONFIG_T::n_elem], res_T y[CONFIG_T::n_elem]) {
    for (unsigned i = 0; i < CONFIG_T::n_elem; i++) {
#pragma HLS PIPELINE II=1
        y[i] = activate<res_T, CONFIG_T>(res_T(x[i]));
    }
}

}  // namespace nnet
#endif
