/* int8 max or min over axes (TFLite REDUCE_MAX / REDUCE_MIN): input and output share one grid,
 * so the result is one of the input bytes. The loop is mcf_reduce_ref.inc's. */
#define MCF_REDUCE_FN mcf_reduce_minmax_s8
#define MCF_REDUCE_S8
#include "mcf_reduce_ref.inc"
