/* Softmax cross-entropy loss and its gradient with respect to the logits (see mcf_train.h). */
#include "mcf_train.h"
#include "mcf_train_math.h"

float mcf_softmax_xent(const mcf_xent_args *a, const mcf_fsrc *z, const int32_t *labels, float *dz)
{
    const float inv_batch = 1.0f / (float)a->batch;
    float total = 0.0f;
    for (int32_t n = 0; n < a->batch; ++n) {
        const size_t row = (size_t)n * a->classes;
        float zmax = mcf_fsrc_at(z, row);
        for (int32_t j = 1; j < a->classes; ++j) {
            const float v = mcf_fsrc_at(z, row + j);
            zmax = v > zmax ? v : zmax;
        }
        float sum = 0.0f;
        for (int32_t j = 0; j < a->classes; ++j) {
            dz[row + j] = mcf_train_expf(mcf_fsrc_at(z, row + j) - zmax);
            sum += dz[row + j];
        }
        const int32_t label = labels[n];
        total += mcf_train_logf(sum) - (mcf_fsrc_at(z, row + label) - zmax);
        for (int32_t j = 0; j < a->classes; ++j) {
            const float p = dz[row + j] / sum;
            dz[row + j] = (j == label ? p - 1.0f : p) * inv_batch;
        }
    }
    return total * inv_batch;
}
