/* SGD with momentum, applied in place to a float32, int8 or int32 parameter (see mcf_train.h). */
#include "mcf_train.h"

static inline float mcf_sgd_step(const mcf_sgd_args *a, const float *grad, float *v, int32_t i)
{
    float g = grad[i];
    if (a->gscale) {
        g = g * a->gscale[(i / a->ch_stride) % a->channels];
    }
    if (v) {
        v[i] = a->momentum * v[i] + g;
        g = v[i];
    }
    return a->lr * g;
}

/* floor(t) saturated to [lo, hi]; lo and hi are exact in float32. */
static inline int32_t mcf_floor_sat(float t, int32_t lo, int32_t hi)
{
    if (!(t > (float)lo)) {     /* also NaN */
        return lo;
    }
    if (t >= (float)hi) {
        return hi;
    }
    int32_t k = (int32_t)t;
    return (float)k > t ? k - 1 : k;
}

void mcf_sgd_f32(const mcf_sgd_args *a, const float *grad, float *v, float *p)
{
    for (int32_t i = 0; i < a->size; ++i) {
        p[i] = p[i] - mcf_sgd_step(a, grad, v, i);
    }
}

void mcf_sgd_s8(const mcf_sgd_args *a, const float *grad, float *v, int8_t *p)
{
    for (int32_t i = 0; i < a->size; ++i) {
        const float np = (float)p[i] - mcf_sgd_step(a, grad, v, i);
        p[i] = (int8_t)mcf_floor_sat(np + 0.5f, -127, 127);
    }
}

void mcf_sgd_s32(const mcf_sgd_args *a, const float *grad, float *v, int32_t *p)
{
    for (int32_t i = 0; i < a->size; ++i) {
        const float np = (float)p[i] - mcf_sgd_step(a, grad, v, i);
        p[i] = mcf_floor_sat(np + 0.5f, -(1 << 24), 1 << 24);
    }
}
