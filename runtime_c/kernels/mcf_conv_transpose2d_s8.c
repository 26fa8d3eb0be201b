/* int8 transposed convolution, any groups, reference version. Gathered per output pixel: each
 * output sums only the taps that reach it (mcf_ct_axis, no int32 scratch); the integer sum, bias
 * and per-channel requantization equal TFLite Micro's scatter-then-requantize kernel. The loop
 * is mcf_conv_ref.inc's. */
#define MCF_CONV_FN mcf_conv_transpose2d_s8
#define MCF_CONV_S8
#define MCF_CONV_TRANSPOSED
#include "mcf_conv_ref.inc"
