/* Fused head backward (mean_pw_grad, see mcf_train.h): the gradient at a 1x1 convolution's
 * output under a global mean is made one pixel at a time and added straight into the bias,
 * weight and input gradients, so it is never stored. */
#include "mcf_train.h"

void mcf_mean_pw_grad(const mcf_mean_pw_grad_args *a, const float *dmean, const float *y_f32, const int8_t *y_s8,
                      const mcf_fsrc *w, const mcf_fsrc *x, float *db, float *dw, float *dx)
{
    const int32_t c_n = a->channels, ci_n = a->in_c;
    const float count = (float)a->pixels;
    if (db) {
        for (int32_t c = 0; c < a->bias_rows; ++c) {
            db[c] = 0.0f;
        }
    }
    if (dw) {
        for (int32_t i = 0; i < a->weight_rows * ci_n; ++i) {
            dw[i] = 0.0f;
        }
    }
    for (int32_t n = 0; n < a->batch; ++n) {
        for (int32_t p = 0; p < a->pixels; ++p) {
            const size_t pix = (size_t)n * (size_t)a->pixels + (size_t)p;
            float *dxp = dx ? dx + pix * (size_t)ci_n : NULL;
            if (dxp) {
                for (int32_t i = 0; i < ci_n; ++i) {
                    dxp[i] = 0.0f;
                }
            }
            for (int32_t c = 0; c < c_n; ++c) {
                const size_t yi = pix * (size_t)c_n + (size_t)c;
                if (y_s8 && !(y_s8[yi] > a->lo_q && y_s8[yi] < a->hi_q)) {
                    continue;
                }
                if (y_f32 && !(y_f32[yi] > a->lo_f && y_f32[yi] < a->hi_f)) {
                    continue;
                }
                const float g = dmean[(size_t)n * (size_t)c_n + (size_t)c] / count;
                if (c < a->bias_rows) {
                    db[c] += g;
                }
                if (c < a->weight_rows) {
                    float *dwr = dw + (size_t)c * (size_t)ci_n;
                    for (int32_t i = 0; i < ci_n; ++i) {
                        dwr[i] += g * mcf_fsrc_at(x, pix * (size_t)ci_n + (size_t)i);
                    }
                }
                if (dxp) {
                    for (int32_t i = 0; i < ci_n; ++i) {
                        dxp[i] += g * mcf_fsrc_at(w, (size_t)c * (size_t)ci_n + (size_t)i);
                    }
                }
            }
        }
    }
}
