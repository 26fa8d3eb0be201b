/* sgd_update: SGD with momentum on a float32 master copy of the trained rows, then the
 * parameter's trained rows refreshed from it (see mcf_train.h). */
#include "mcf_train.h"

/* (int32_t)(v + (v >= 0 ? 0.5f : -0.5f)) saturated to [lo, hi]; the bounds are tested in float
 * first, so the conversion never leaves the int32 range. */
static inline int32_t mcf_round_away_sat(float v, int32_t lo, int32_t hi)
{
    const float t = v + (v >= 0.0f ? 0.5f : -0.5f);
    if (!(t >= -2147483648.0f)) {     /* also NaN */
        return lo;
    }
    if (t >= 2147483648.0f) {
        return hi;
    }
    const int32_t r = (int32_t)t;
    return r < lo ? lo : (r > hi ? hi : r);
}

static inline float mcf_param_at(int32_t kind, const void *param, int32_t i)
{
    switch (kind) {
    case MCF_PARAM_F32:
        return ((const float *)param)[i];
    case MCF_PARAM_S8:
        return (float)((const int8_t *)param)[i];
    default:
        return (float)((const int32_t *)param)[i];
    }
}

void mcf_sgd_update(const mcf_sgd_args *a, const float *grad, float *master, float *momentum, void *param)
{
    const int32_t n = a->rows * a->row_size;
    for (int32_t i = 0; i < n; ++i) {
        float g = grad[i] * a->grad_scale[i / a->row_size];
        if (momentum) {
            momentum[i] = a->momentum * momentum[i];
            momentum[i] = momentum[i] + g;
            g = momentum[i];
        }
        /* without a master copy the update starts from the parameter itself */
        const float m = (master ? master[i] : mcf_param_at(a->param_kind, param, i)) - a->lr * g;
        if (master) {
            master[i] = m;
        }
        switch (a->param_kind) {
        case MCF_PARAM_F32:
            ((float *)param)[i] = m;
            break;
        case MCF_PARAM_S8:
            ((int8_t *)param)[i] = (int8_t)mcf_round_away_sat(m, a->clamp_lo, a->clamp_hi);
            break;
        default:
            ((int32_t *)param)[i] = mcf_round_away_sat(m, a->clamp_lo, a->clamp_hi);
            break;
        }
    }
}
