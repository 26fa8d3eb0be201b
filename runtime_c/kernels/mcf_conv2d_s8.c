/* int8 2-D convolution, any groups, reference version: one output at a time, padding skipped
 * (equivalent to padding with the input zero point). The loop is mcf_conv_ref.inc's. */
#define MCF_CONV_FN mcf_conv2d_s8
#define MCF_CONV_S8
#include "mcf_conv_ref.inc"
