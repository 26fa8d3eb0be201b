/* int8 max pooling over NHWC windows; padded cells never win. The loop is mcf_pool_ref.inc's. */
#define MCF_POOL_FN mcf_maxpool_s8
#define MCF_POOL_S8
#include "mcf_pool_ref.inc"
