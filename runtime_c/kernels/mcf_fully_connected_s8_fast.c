/*
 * int8 fully connected layer, tuned portable C: a 1x1 convolution over `rows` pixels, run by the
 * tuned convolution (mcf_conv2d_s8_fast.c: two multiply-accumulates per 32-bit multiply, four
 * output channels per pass over the input) with the same prepared constants (weight pairs packed
 * at compile time, folded bias), so the two share one tuned inner loop.
 */
#include "mcf_fc_as_conv.h"

void mcf_fully_connected_s8_fast(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out)
{
    mcf_conv2d_s8_args c;
    mcf_fc_as_conv(a, &c);
    mcf_conv2d_s8_fast(&c, in, out);
}
