/* float32 bilinear resize from compile-time row / column tables and weights. The loop is
 * mcf_resize_bilinear_ref.inc's. */
#define MCF_RESIZE_FN mcf_resize_bilinear_f32
#define MCF_RESIZE_F32
#include "mcf_resize_bilinear_ref.inc"
