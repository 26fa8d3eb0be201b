/* int16 average pooling: int32 sum of the window (at most 65536 cells of |x| <= 32768), divided by
 * its count with TFLite's rounding (half away from zero); padding excluded from the count unless
 * count_include_pad (then padded cells hold pad_value, the zero point 0). The loop is
 * mcf_pool_ref.inc's. */
#define MCF_POOL_FN mcf_avgpool_s16
#define MCF_POOL_S16
#define MCF_POOL_AVG
#include "mcf_pool_ref.inc"
