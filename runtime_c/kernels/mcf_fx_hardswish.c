/* Fixed-point hardswish: x * clamp(x + 3, 0, 6) * sixth in int64, then one cast (mcf_fixed.h). */
#include "mcf_fixed.h"

void mcf_fx_hardswish(const mcf_fx_hardswish_args *a, const int8_t *in, int8_t *out)
{
    for (int32_t i = 0; i < a->size; ++i) {
        const int64_t x = (int64_t)in[i] * ((int64_t)1 << a->up);
        int64_t t = x + a->three;
        t = t < 0 ? 0 : (t > a->six ? a->six : t);
        out[i] = (int8_t)mcf_fx_cast(x * t * a->sixth, &a->rq);
    }
}
