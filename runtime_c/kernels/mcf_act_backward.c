/* Backward of relu / relu6 / clip from the saved forward output: the gradient passes where the
 * activation was not clamped. */
#include "mcf_train.h"

void mcf_act_backward_f32(const mcf_act_grad_args *a, const float *y, const float *dy, float *dx)
{
    for (int32_t i = 0; i < a->size; ++i) {
        dx[i] = (y[i] > a->lo_f && y[i] < a->hi_f) ? dy[i] : 0.0f;
    }
}

void mcf_act_backward_s8(const mcf_act_grad_args *a, const int8_t *y, const float *dy, float *dx)
{
    for (int32_t i = 0; i < a->size; ++i) {
        dx[i] = (y[i] > a->lo_q && y[i] < a->hi_q) ? dy[i] : 0.0f;
    }
}
