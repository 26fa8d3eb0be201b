/* Fixed-point add / subtract: both operands at the finer binary point (exact left shifts), then
 * one cast (mcf_fixed.h). */
#include "mcf_fixed.h"

void mcf_fx_add(const mcf_fx_add_args *a, const int8_t *x, const int8_t *y, int8_t *out)
{
    const int32_t sx = (int32_t)1 << a->a_shift, sy = (int32_t)1 << a->b_shift;
    for (int32_t i = 0; i < a->size; ++i) {
        const int32_t u = (int32_t)x[i] * sx, v = (int32_t)y[i] * sy;
        out[i] = (int8_t)mcf_fx_cast(a->subtract ? u - v : u + v, &a->rq);
    }
}
