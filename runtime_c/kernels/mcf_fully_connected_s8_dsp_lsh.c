/*
 * int8 fully connected layer for cores with the DSP extension, for layers with channels whose
 * requantization shifts left (multiplier >= 1/2), under TFLite's double rounding: the 1x1
 * convolution's _lsh block kernel (mcf_conv2d_s8_dsp_lsh.c) with the shift folded into those
 * channels' weights and bias at compile time (variants/dsp_fc_lsh.py). Under single rounding the
 * plain mcf_fully_connected_s8_dsp runs such layers (constants prepared for it there).
 */
#include "mcf_fc_as_conv.h"

void mcf_fully_connected_s8_dsp_lsh(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out)
{
    mcf_conv2d_s8_args c;
    mcf_fc_as_conv(a, &c);
    mcf_conv2d_s8_dsp_block_lsh(&c, in, out, a->out_features);
}
