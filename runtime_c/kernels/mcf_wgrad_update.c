/* A weight gradient applied row by row as it is made (see mcf_train.h): the whole gradient of a
 * trained weight never exists, only one output channel's row of it. */
#include "mcf_train.h"

void mcf_wgrad_sgd_update(const mcf_conv_grad_args *ga, const mcf_sgd_args *u, const mcf_fsrc *x, const float *dy,
                          float *master, float *momentum, void *param, float *row)
{
    const size_t rs = (size_t)u->row_size;
    const size_t esize = u->param_kind == MCF_PARAM_S8 ? 1u : 4u;
    for (int32_t r = 0; r < u->rows; ++r) {
        mcf_conv_grad_args one = *ga;
        one.row0 = r;
        one.out_rows = r + 1;
        mcf_conv2d_wgrad(&one, x, dy, row);
        mcf_sgd_args ur = *u;
        ur.rows = 1;
        ur.grad_scale = u->grad_scale + r;
        mcf_sgd_update(&ur, row, master ? master + (size_t)r * rs : NULL, momentum ? momentum + (size_t)r * rs : NULL,
                       (uint8_t *)param + (size_t)r * rs * esize);
    }
}
