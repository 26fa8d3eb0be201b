/* Fixed-point hardswish, exactly rounded: n = x * clamp(x + 3, 0, 6) on x's grid, then
 * z = 2 floor(n / 3) + sticky and one cast (mcf_fixed.h). */
#include "mcf_fixed.h"

void mcf_fx_hardswish(const mcf_fx_hardswish_args *a, const int8_t *in, int8_t *out)
{
    for (int32_t i = 0; i < a->size; ++i) {
        const int32_t x = (int32_t)in[i] * ((int32_t)1 << a->up);
        int32_t t = x + a->three;
        t = t < 0 ? 0 : (t > a->six ? a->six : t);
        const int32_t n = (int32_t)((uint32_t)(x * t) << a->n_shift);
        int32_t q = n / 3;  /* truncates: floor is one less for a negative remainder */
        int32_t r = n - 3 * q;
        if (r < 0) {
            q -= 1;
            r += 3;
        }
        out[i] = (int8_t)mcf_fx_cast(2 * (int64_t)q + (r != 0), &a->rq);
    }
}
