// Max and average pooling over NHWC windows. Padding never wins a max; the average divides by
// a power of two (the compiler refuses other window counts), as a multiplication by 2^-shift.
#ifndef MCUFORGE_NNET_POOLING_H
#define MCUFORGE_NNET_POOLING_H

#include "nnet_activation.h"

namespace nnet {

template <class data_T, class res_T, typename CONFIG_T>
void maxpool2d(const data_T x[CONFIG_T::in_h * CONFIG_T::in_w * CONFIG_T::n_chan],
               res_T y[CONFIG_T::out_h * CONFIG_T::out_w * CONFIG_T::n_chan]) {
    for (int oh = 0; oh < CONFIG_T::out_h; oh++) {
        for (int ow = 0; ow < CONFIG_T::out_w; ow++) {
            for (int c = 0; c < CONFIG_T::n_chan; c++) {
#pragma HLS PIPELINE II=CONFIG_T::reuse_factor
                bool any = false;
                data_T best = 0;
                for (int i = 0; i < CONFIG_T::pool_h; i++) {
                    for (int j = 0; j < CONFIG_T::pool_w; j++) {
                        const int r = oh * CONFIG_T::stride_h + i - CONFIG_T::pad_top;
                        const int q = ow * CONFIG_T::stride_w + j - CONFIG_T::pad_left;
                        if (r < 0 || r >= CONFIG_T::in_h || q < 0 || q >= CONFIG_T::in_w) continue;
                        const data_T v = x[(r * CONFIG_T::in_w + q) * CONFIG_T::n_chan + c];
                        if (!any || v > best) best = v;
                        any = true;
                    }
                }
                y[(oh * CONFIG_T::out_w + ow) * CONFIG_T::n_chan + c] = activate<res_T, CONFIG_T>(res_T(best));
            }
        }
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void avgpool2d(const data_T x[CONFIG_T::in_h * CONFIG_T::in_w * CONFIG_T::n_chan],
               res_T y[CONFIG_T::out_h * CONFIG_T::out_w * CONFIG_T::n_chan]) {
    const typename CONFIG_T::scale_t inv_count = typename CONFIG_T::scale_t(1.0 / (1 << CONFIG_T::shift));
    for (int oh = 0; oh < CONFIG_T::out_h; oh++) {
        for (int ow = 0; ow < CONFIG_T::out_w; ow++) {
            for (int c = 0; c < CONFIG_T::n_chan; c++) {
#pragma HLS PIPELINE II=CONFIG_T::reuse_factor
                typename CONFIG_T::accum_t sum = 0;
                for (int i = 0; i < CONFIG_T::pool_h; i++) {
                    for (int j = 0; j < CONFIG_T::pool_w; j++) {
                        const int r = oh * CONFIG_T::stride_h + i - CONFIG_T::pad_top;
                        const int q = ow * CONFIG_T::stride_w + j - CONFIG_T::pad_left;
                        if (r < 0 || r >= CONFIG_T::in_h || q < 0 || q >= CONFIG_T::in_w) continue;
                        sum += x[(r * CONFIG_T::in_w + q) * CONFIG_T::n_chan + c];
                    }
                }
                y[(oh * CONFIG_T::out_w + ow) * CONFIG_T::n_chan + c] = activate<res_T, CONFIG_T>(res_T(sum * inv_count));
            }
        }
    }
}

}  // namespace nnet
#endif
