/* int8 average pooling: sum of the window, divided by its count with TFLite's rounding (half
 * away from zero). Padding is excluded from the count unless count_include_pad, in which case
 * padded cells hold the zero point. The loop is mcf_pool_ref.inc's. */
#define MCF_POOL_FN mcf_avgpool_s8
#define MCF_POOL_S8
#define MCF_POOL_AVG
#include "mcf_pool_ref.inc"
