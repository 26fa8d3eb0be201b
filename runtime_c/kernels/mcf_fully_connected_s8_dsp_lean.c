/*
 * int8 fully connected layer for cores with the DSP extension, in little scratch: a 1x1
 * convolution over `rows` pixels on mcf_conv2d_s8_dsp_lean.c (one int8 row of scratch instead
 * of two int16 columns), with the DSP kernel's prepared weights (variants.py).
 */
#include <string.h>

#include "mcf_kernels.h"

void mcf_fully_connected_s8_dsp_lean(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out)
{
    mcf_conv2d_s8_args c;
    memset(&c, 0, sizeof(c));
    c.win.batch = 1;
    c.win.in_h = 1;
    c.win.in_w = a->rows;
    c.win.in_c = a->in_features;
    c.win.out_h = 1;
    c.win.out_w = a->rows;
    c.win.out_c = a->out_features;
    c.win.k_h = c.win.k_w = 1;
    c.win.stride_h = c.win.stride_w = 1;
    c.win.dil_h = c.win.dil_w = 1;
    c.groups = 1;
    c.rq = a->rq;
    c.packed_weights = a->packed_weights;
    c.packed_quant = a->packed_quant;
    c.scratch = a->scratch;
    mcf_conv2d_s8_dsp_lean(&c, in, out);
}
