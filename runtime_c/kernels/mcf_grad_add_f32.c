/* grad_add: two gradients of one tensor added elementwise (float32). */
#include "mcf_train.h"

void mcf_grad_add_f32(int32_t size, const float *a, const float *b, float *out)
{
    for (int32_t i = 0; i < size; ++i) {
        out[i] = a[i] + b[i];
    }
}
