// 2-D convolution over an NHWC image read once in raster order through a line buffer of the
// last filt_h padded rows; groups == n_chan gives the depthwise convolution. Weights are
// [n_filt][filt_h][filt_w][n_chan / groups]. The per-output loop runs at II = reuse_factor.
#ifndef MCUFORGE_NNET_CONV2D_H
#define MCUFORGE_NNET_CONV2D_H

#include "nnet_activation.h"
#include "nnet_product.h"

namespace nnet {

template <class data_T, class res_T, typename CONFIG_T>
void conv2d(const data_T x[CONFIG_T::in_h * CONFIG_T::in_w * CONFIG_T::n_chan],
            res_T y[CONFIG_T::out_h * CONFIG_T::out_w * CONFIG_T::n_filt],
            const typename CONFIG_T::weight_t w[CONFIG_T::n_filt * CONFIG_T::filt_h * CONFIG_T::filt_w * CONFIG_T::chan_per_group * CONFIG_T::w_terms],
            const typename CONFIG_T::bias_t b[CONFIG_T::n_filt]) {
    const int padded_w = CONFIG_T::in_w + CONFIG_T::pad_left + CONFIG_T::pad_right;
    const int padded_h = CONFIG_T::in_h + CONFIG_T::pad_top + CONFIG_T::pad_bottom;
    const int filt_per_group = CONFIG_T::n_filt / CONFIG_T::groups;
    data_T line_buf[CONFIG_T::filt_h][padded_w][CONFIG_T::n_chan];
#pragma HLS ARRAY_PARTITION variable=line_buf complete dim=1

    for (int pr = 0; pr < padded_h; pr++) {
        // shift one padded row into the buffer (slot pr mod filt_h replaces the oldest row)
        const int r = pr - CONFIG_T::pad_top;
        for (int pc = 0; pc < padded_w; pc++) {
            const int c = pc - CONFIG_T::pad_left;
            for (int ch = 0; ch < CONFIG_T::n_chan; ch++) {
#pragma HLS PIPELINE II=1
                const bool inside = r >= 0 && r < CONFIG_T::in_h && c >= 0 && c < CONFIG_T::in_w;
                line_buf[pr % CONFIG_T::filt_h][pc][ch] =
                    inside ? x[(r * CONFIG_T::in_w + c) * CONFIG_T::n_chan + ch] : data_T(0);
            }
        }
        const int top = pr - (CONFIG_T::filt_h - 1);  // first padded row of the window
        if (top < 0 || top % CONFIG_T::stride_h != 0 || top / CONFIG_T::stride_h >= CONFIG_T::out_h) continue;
        const int oh = top / CONFIG_T::stride_h;
        for (int ow = 0; ow < CONFIG_T::out_w; ow++) {
            for (int f = 0; f < CONFIG_T::n_filt; f++) {
#pragma HLS PIPELINE II=CONFIG_T::reuse_factor
                const int ch0 = (f / filt_per_group) * CONFIG_T::chan_per_group;
                typename CONFIG_T::accum_t acc = b[f];
                for (int i = 0; i < CONFIG_T::filt_h; i++) {
                    for (int j = 0; j < CONFIG_T::filt_w; j++) {
                        for (int k = 0; k < CONFIG_T::chan_per_group; k++) {
                            const int wi = ((f * CONFIG_T::filt_h + i) * CONFIG_T::filt_w + j) * CONFIG_T::chan_per_group + k;
                            acc += product<data_T, CONFIG_T>(line_buf[(top + i) % CONFIG_T::filt_h][ow * CONFIG_T::stride_w + j][ch0 + k], w, wi);
                        }
                    }
                }
                y[(oh * CONFIG_T::out_w + ow) * CONFIG_T::n_filt + f] = activate<res_T, CONFIG_T>(res_T(channel_shift<CONFIG_T>::run(acc, f)));
            }
        }
    }
}

// Depthwise convolution: the grouped convolution with one channel per group.
template <class data_T, class res_T, typename CONFIG_T>
void depthwise_conv2d(const data_T x[CONFIG_T::in_h * CONFIG_T::in_w * CONFIG_T::n_chan],
                      res_T y[CONFIG_T::out_h * CONFIG_T::out_w * CONFIG_T::n_filt],
                      const typename CONFIG_T::weight_t w[CONFIG_T::n_filt * CONFIG_T::filt_h * CONFIG_T::filt_w * CONFIG_T::w_terms],
                      const typename CONFIG_T::bias_t b[CONFIG_T::n_filt]) {
    static_assert(CONFIG_T::groups == CONFIG_T::n_chan && CONFIG_T::chan_per_group == 1, "not depthwise");
    conv2d<data_T, res_T, CONFIG_T>(x, y, w, b);
}

}  // namespace nnet
#endif
