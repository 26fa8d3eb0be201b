/*
 * int8 fully connected layer for cores with the DSP extension: the same computation as a 1x1
 * convolution over `rows` pixels, so it runs on the convolution's SMLAD matrix kernel
 * (mcf_conv2d_s8_dsp.c) with the same compile-time prepared weights (variants.py, dsp_fc).
 */
#include "mcf_fc_as_conv.h"

void mcf_fully_connected_s8_dsp(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out)
{
    mcf_conv2d_s8_args c;
    mcf_fc_as_conv(a, &c);
    mcf_conv2d_s8_dsp(&c, in, out);
}
