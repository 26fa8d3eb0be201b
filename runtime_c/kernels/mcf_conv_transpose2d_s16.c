/* 16x8 transposed convolution, any groups, reference version. Gathered per output pixel (each
 * output sums only the taps that reach it, mcf_ct_axis); int64 accumulation plus bias and the
 * 64-bit per-channel requantization equal TFLite Micro's scatter-then-requantize int16 kernel.
 * The loop is mcf_conv_ref.inc's. */
#define MCF_CONV_FN mcf_conv_transpose2d_s16
#define MCF_CONV_S16
#define MCF_CONV_TRANSPOSED
#include "mcf_conv_ref.inc"
