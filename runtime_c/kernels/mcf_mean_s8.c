/* int8 mean over axes with TFLite Micro's arithmetic: the zero-point-corrected int32 sum is
 * requantized once by a multiplier that already holds 1 / count. The loop is mcf_reduce_ref.inc's. */
#define MCF_REDUCE_FN mcf_mean_s8
#define MCF_REDUCE_S8
#define MCF_REDUCE_MEAN
#include "mcf_reduce_ref.inc"
