/* int8 bilinear resize with TFLite Micro's integer arithmetic: weights in units of 1/1024, the
 * four products summed at scale 2^20 (the compiler proves the sum fits int32), rounded half away
 * from zero. The raw int8 values are mixed: input and output share one quantization. The loop is
 * mcf_resize_bilinear_ref.inc's. */
#define MCF_RESIZE_FN mcf_resize_bilinear_s8
#define MCF_RESIZE_S8
#include "mcf_resize_bilinear_ref.inc"
