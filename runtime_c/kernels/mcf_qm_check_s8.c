/* QuantMCU's run-time patch classification (VDPC) and the 8-bit -> low-bit requantization of an
 * outlier-free patch (see mcf_kernels.h). */
#include <string.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"

void mcf_qm_check_s8(const mcf_qm_check_args *a, const int8_t *in, int8_t *out, int8_t *flag)
{
    const int32_t n = a->size;
    int outlier = 0;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t v = in[i];
        if (v < a->lo || v > a->hi) {
            outlier = 1;
            break;
        }
    }
    *flag = (int8_t)outlier;
    if (outlier || a->copy) {
        if (out != in) {
            memcpy(out, in, (size_t)n);
        }
        return;
    }
    for (int32_t i = 0; i < n; ++i) {
        const int32_t v = mcf_requantize((int32_t)in[i] - a->in_zp, a->mult, a->shift) + a->out_zp;
        out[i] = mcf_sat_s8(v, a->out_min, a->out_max);
    }
}
