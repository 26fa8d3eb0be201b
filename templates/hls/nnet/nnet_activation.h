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

// hardswish x * clamp(x + 3, 0, 6) / 6 rounded exactly into the output type (the fixed contract's
// rule, reference/fixed_arith.py): x at F1 = max(F_x, 0) bits (x1_t), 3 and 6 on that grid, the
// integer n = x1 * t * 2^(E-1) (exact), q = floor(n / 3) (a division by a constant) and the sticky
// bit of its remainder, then z = 2 q + sticky, worth z * 2^-(E+1), cast to the output type.
template <class data_T, class res_T, typename CONFIG_T>
void hardswish(const data_T x[CONFIG_T::n_elem], res_T y[CONFIG_T::n_elem]) {
    typedef typename CONFIG_T::sum_t sum_T;
    for (unsigned i = 0; i < CONFIG_T::n_elem; i++) {
#pragma HLS PIPELINE II=1
        const typename CONFIG_T::x1_t x1 = x[i];
        sum_T s = sum_T(x1) + sum_T(3.0);
        if (s < sum_T(0.0)) s = sum_T(0.0);
        if (s > sum_T(6.0)) s = sum_T(6.0);
        const typename CONFIG_T::t_t t = s;
        const typename CONFIG_T::n_t n = x1 * t * typename CONFIG_T::pow_t(CONFIG_T::n_scale);
        const long long ni = n.to_int64();
        long long q = ni / 3, r = ni - 3 * q;  // C++ division truncates: floor is one less for r < 0
        if (r < 0) {
            q -= 1;
            r += 3;
        }
        const typename CONFIG_T::z_t z = 2 * q + (r != 0 ? 1 : 0);
        y[i] = activate<res_T, CONFIG_T>(res_T(z * typename CONFIG_T::zscale_t(CONFIG_T::z_scale)));
    }
}

}  // namespace nnet
#endif
