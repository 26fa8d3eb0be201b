/* Fixed-point concat: every input's elements cast to the output type with that input's shift. */
#include "mcf_fixed.h"

void mcf_fx_concat(const mcf_fx_concat_args *a, const void *const *inputs, int8_t *out)
{
    for (int32_t o = 0; o < a->outer; ++o) {
        for (int32_t i = 0; i < a->n_inputs; ++i) {
            const int8_t *src = (const int8_t *)inputs[i] + (size_t)o * a->chunk[i];
            for (int32_t j = 0; j < a->chunk[i]; ++j) {
                *out++ = (int8_t)mcf_fx_cast(src[j], &a->rq[i]);
            }
        }
    }
}
