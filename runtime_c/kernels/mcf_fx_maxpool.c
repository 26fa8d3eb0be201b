/* Fixed-point max pooling over NHWC windows (padding never wins), then the fused clamp; the
 * output keeps the input's type. */
#include "mcf_fixed.h"

static void clamp_max(const void *ctx, int64_t v, int8_t *dst)
{
    const mcf_fx_maxpool_args *a = (const mcf_fx_maxpool_args *)ctx;
    *dst = (int8_t)(v < a->act_lo ? a->act_lo : (v > a->act_hi ? a->act_hi : v));
}

void mcf_fx_maxpool(const mcf_fx_maxpool_args *a, const int8_t *in, int8_t *out)
{
    mcf_fx_pool(&a->win, in, 1, clamp_max, a, out);
}
