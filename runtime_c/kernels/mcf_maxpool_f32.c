/* float32 max pooling over NHWC windows. The loop is mcf_pool_ref.inc's. */
#define MCF_POOL_FN mcf_maxpool_f32
#define MCF_POOL_F32
#include "mcf_pool_ref.inc"
