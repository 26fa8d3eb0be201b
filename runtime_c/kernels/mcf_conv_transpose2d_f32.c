/* float32 transposed convolution, any groups, reference version (gathered per output pixel, see
 * mcf_conv_transpose2d_s8.c). The loop is mcf_conv_ref.inc's. */
#define MCF_CONV_FN mcf_conv_transpose2d_f32
#define MCF_CONV_F32
#define MCF_CONV_TRANSPOSED
#include "mcf_conv_ref.inc"
