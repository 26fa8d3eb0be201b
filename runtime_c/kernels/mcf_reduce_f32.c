/* float32 sum, max or min over axes (the mean has its own kernel, mcf_mean_f32). The loop is
 * mcf_reduce_ref.inc's. */
#define MCF_REDUCE_FN mcf_reduce_f32
#define MCF_REDUCE_F32
#include "mcf_reduce_ref.inc"
