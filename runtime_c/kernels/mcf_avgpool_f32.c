/* float32 average pooling; padding excluded from the count unless count_include_pad. The loop is
 * mcf_pool_ref.inc's. */
#define MCF_POOL_FN mcf_avgpool_f32
#define MCF_POOL_F32
#define MCF_POOL_AVG
#include "mcf_pool_ref.inc"
