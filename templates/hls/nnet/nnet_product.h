// One product x * w of a dense or convolution layer. A layer's config says how its weights are
// stored: khot == 0, one weight_t value per weight (a multiplier); khot == K > 0, K signed terms
// per weight, t = 0 (none) or +-(shift + 1), meaning w = sum sign * 2^shift in raw LSBs (a weight
// that is a sum of at most K signed powers of two): the product is then shifts and adds, no
// multiplier (codegen/fpga/khot.py writes the terms).
#ifndef MCUFORGE_NNET_PRODUCT_H
#define MCUFORGE_NNET_PRODUCT_H

namespace nnet {

// x times one weight LSB (2^-w_frac) in the accumulator's type, exactly. The accumulator's binary
// point is x's plus w_frac: for w_frac >= 0, x there shifted right by w_frac (those bits are zero);
// for w_frac < 0 (weights coarser than 1, e.g. a ternary scale of 2) the accumulator has fewer
// fractional bits than x, so x is first multiplied by the power of two 2^-w_frac (a 2-bit
// constant: a wire shift in hardware) in the product's full-precision type.
template <class acc_T, int w_frac, bool coarse = (w_frac < 0)>
struct times_weight_lsb {
    template <class data_T>
    static acc_T run(const data_T &x) { return acc_T(x) >> w_frac; }
};

template <class acc_T, int w_frac>
struct times_weight_lsb<acc_T, w_frac, true> {
    template <class data_T>
    static acc_T run(const data_T &x) { return acc_T(x * ap_fixed<2, 2 - w_frac>(1 << -w_frac)); }
};

template <class data_T, typename CONFIG_T, bool khot>
struct product_impl;

template <class data_T, typename CONFIG_T>
struct product_impl<data_T, CONFIG_T, false> {
    static auto run(const data_T &x, const typename CONFIG_T::weight_t *w, unsigned i) {
        auto p = x * w[i];
        // int4 weights (mul_fabric): a 4 x Wx product is a few LUT adders; keep it off the DSPs
        if (CONFIG_T::mul_fabric) {
#pragma HLS BIND_OP variable=p op=mul impl=fabric
        }
        return p;
    }
};

template <class data_T, typename CONFIG_T>
struct product_impl<data_T, CONFIG_T, true> {
    static typename CONFIG_T::accum_t run(const data_T &x, const typename CONFIG_T::weight_t *w, unsigned i) {
#pragma HLS INLINE
        typedef typename CONFIG_T::accum_t acc_T;
        const acc_T xa = times_weight_lsb<acc_T, CONFIG_T::w_frac>::run(x);
        acc_T s = 0;
        for (int k = 0; k < CONFIG_T::khot; k++) {
#pragma HLS UNROLL
            const int t = w[i * CONFIG_T::khot + k].to_int();
            if (t > 0) s += xa << (t - 1);
            else if (t < 0) s -= xa << (-t - 1);
        }
        return s;
    }
};

// Per-channel power-of-two weight scales (sub-byte layers, config w_shift): channel c's products
// are summed on the raw weights (from bias >> s_c) and the sum is shifted left by s_c = shift_of(c)
// once, before the output cast; exact, since the accumulator has room for the shift.
template <typename CONFIG_T, bool shifted = (CONFIG_T::w_shift != 0)>
struct channel_shift {
    template <class acc_T>
    static acc_T run(const acc_T &acc, unsigned) { return acc; }
};

template <typename CONFIG_T>
struct channel_shift<CONFIG_T, true> {
    template <class acc_T>
    static acc_T run(const acc_T &acc, unsigned c) { return acc << CONFIG_T::shift_of(c); }
};

template <class data_T, typename CONFIG_T>
inline auto product(const data_T &x, const typename CONFIG_T::weight_t *w, unsigned i) {
#pragma HLS INLINE
    return product_impl<data_T, CONFIG_T, (CONFIG_T::khot > 0)>::run(x, w, i);
}

}  // namespace nnet
#endif
