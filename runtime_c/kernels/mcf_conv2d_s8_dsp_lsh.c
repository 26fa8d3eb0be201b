/*
 * The int8 DSP convolution's block kernel (mcf_conv2d_s8_dsp.c) with a requantization that also
 * takes channels without a right shift (multiplier >= 1/2, a left shift folded into the weights):
 * mcf_conv2d_s8_dsp_block_lsh, for the sub-byte convolutions whose layers have such channels
 * (mcf_subbyte_dsp.h), and mcf_conv2d_s8_dsp_lsh, the int8 convolutions with such channels under
 * TFLite's double rounding (variants/dsp_conv_lsh.py). One instruction more per output than the
 * int8 kernel; the same source (its
 * variants list mcf_conv2d_s8_dsp.c too, so that it is copied beside this file).
 */
#define MCF_CONV_DSP_LSH 1
#include "mcf_conv2d_s8_dsp.c"
