/* Mean squared error and its gradient (see mcf_train.h). */
#include "mcf_train.h"

float mcf_mse(int32_t n, const mcf_fsrc *y, const float *t, float *dy)
{
    const float two_over_n = 2.0f / (float)n;
    float acc = 0.0f;
    for (int32_t i = 0; i < n; ++i) {
        const float d = mcf_fsrc_at(y, (size_t)i) - t[i];
        acc += d * d;
        dy[i] = d * two_over_n;
    }
    return acc / (float)n;
}
