/*
 * int8 fully connected layer for cores with the DSP extension, in little scratch: a 1x1
 * convolution over `rows` pixels on mcf_conv2d_s8_dsp_lean.c (one int8 row of scratch instead
 * of two int16 columns), with the DSP kernel's prepared weights (variants.py).
 */
#include "mcf_fc_as_conv.h"

void mcf_fully_connected_s8_dsp_lean(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out)
{
    mcf_conv2d_s8_args c;
    mcf_fc_as_conv(a, &c);
    mcf_conv2d_s8_dsp_lean(&c, in, out);
}
