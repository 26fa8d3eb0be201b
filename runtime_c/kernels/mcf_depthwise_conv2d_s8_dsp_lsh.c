/*
 * The int8 DSP depthwise kernel (mcf_depthwise_conv2d_s8_dsp.c, any kernel / stride / dilation /
 * depth multiplier) with a requantization that also takes channels with e = 0 (multiplier >= 1/2,
 * a left shift folded into the taps and the bias): mcf_depthwise_conv2d_s8_dsp_lsh and _dsp2_lsh,
 * for the sub-byte depthwise layers that have such channels (mcf_subbyte_dsp_dw.h). The same
 * source (its variants list mcf_depthwise_conv2d_s8_dsp.c too, so that it is copied beside this file).
 */
#define MCF_DW_DSP_LSH 1
#include "mcf_depthwise_conv2d_s8_dsp.c"
