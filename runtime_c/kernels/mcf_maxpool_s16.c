/* int16 max pooling over NHWC windows; padded cells never win. The loop is mcf_pool_ref.inc's. */
#define MCF_POOL_FN mcf_maxpool_s16
#define MCF_POOL_S16
#include "mcf_pool_ref.inc"
