/*
 * mcf_fc_as_conv.h - a fully connected layer is a 1x1 convolution over `rows` pixels; the
 * optimized fully connected variants describe themselves that way and run the matching
 * convolution kernel with the same compile-time prepared constants.
 */
#ifndef MCF_FC_AS_CONV_H
#define MCF_FC_AS_CONV_H

#include <string.h>

#include "mcf_kernels.h"

static inline void mcf_fc_as_conv(const mcf_fully_connected_s8_args *a, mcf_conv2d_s8_args *c)
{
    memset(c, 0, sizeof(*c));
    c->win.batch = 1;
    c->win.in_h = 1;
    c->win.in_w = a->rows;
    c->win.in_c = a->in_features;
    c->win.out_h = 1;
    c->win.out_w = a->rows;
    c->win.out_c = a->out_features;
    c->win.k_h = c->win.k_w = 1;
    c->win.stride_h = c->win.stride_w = 1;
    c->win.dil_h = c->win.dil_w = 1;
    c->groups = 1;
    c->weights = a->weights;
    c->rq = a->rq;
    c->packed_weights = a->packed_weights;
    c->packed_quant = a->packed_quant;
    c->scratch = a->scratch;
}

#endif /* MCF_FC_AS_CONV_H */
