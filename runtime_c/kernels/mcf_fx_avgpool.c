/* Fixed-point average pooling: the window sum (padding adds 0; every window has the same
 * power-of-two count, checked by the compiler), then one cast whose shift divides by it. */
#include "mcf_fixed.h"

static void cast_mean(const void *ctx, int64_t v, int8_t *dst)
{
    *dst = (int8_t)mcf_fx_cast(v, &((const mcf_fx_avgpool_args *)ctx)->rq);
}

void mcf_fx_avgpool(const mcf_fx_avgpool_args *a, const int8_t *in, int8_t *out)
{
    mcf_fx_pool(&a->win, in, 0, cast_mean, a, out);
}
