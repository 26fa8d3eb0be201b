/* int16 mean over axes with TFLite Micro's arithmetic: the int32 sum (count < 65536 values of
 * |x| <= 32768, proved at compile time) requantized once by a multiplier holding 1 / count. The
 * loop is mcf_reduce_ref.inc's. */
#define MCF_REDUCE_FN mcf_mean_s16
#define MCF_REDUCE_S16
#define MCF_REDUCE_MEAN
#include "mcf_reduce_ref.inc"
