/* float32 mean over axes. The loop is mcf_reduce_ref.inc's. */
#define MCF_REDUCE_FN mcf_mean_f32
#define MCF_REDUCE_F32
#define MCF_REDUCE_MEAN
#include "mcf_reduce_ref.inc"
