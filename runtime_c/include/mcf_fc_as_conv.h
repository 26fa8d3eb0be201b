/*
 * mcf_fc_as_conv.h - a fully connected layer is a 1x1 convolution over `rows` pixels; the
 * optimized fully connected variants describe themselves that way and run the matching
 * convolution kernel with the same compile-time prepared constants.
 */
#ifndef MCF_FC_AS_CONV_H
#define MCF_FC_AS_CONV_H

#include <string.h>

#include "mcf_kernels.h"

/* The window of that 1x1 convolution (no padding). */
static inline mcf_window mcf_fc_window(int32_t rows, int32_t in_features, int32_t out_features)
{
    const mcf_window w = {.batch = 1, .in_h = 1, .in_w = rows, .in_c = in_features, .out_h = 1,
                          .out_w = rows, .out_c = out_features, .k_h = 1, .k_w = 1, .stride_h = 1,
                          .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_top = 0, .pad_left = 0};
    return w;
}

static inline void mcf_fc_as_conv(const mcf_fully_connected_s8_args *a, mcf_conv2d_s8_args *c)
{
    memset(c, 0, sizeof(*c));
    c->win = mcf_fc_window(a->rows, a->in_features, a->out_features);
    c->groups = 1;
    c->weights = a->weights;
    c->rq = a->rq;
    c->packed_weights = a->packed_weights;
    c->packed_quant = a->packed_quant;
    c->scratch = a->scratch;
}

#endif /* MCF_FC_AS_CONV_H */
