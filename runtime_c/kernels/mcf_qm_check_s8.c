/* QuantMCU's run-time patch classification (VDPC) and the 8-bit -> low-bit requantization of an
 * outlier-free patch (see mcf_kernels.h): one pass that maps each code through the compile-time
 * table until it meets an outlier; then the patch stays at 8 bits and out is a copy of in. */
#include <string.h>

#include "mcf_kernels.h"

void mcf_qm_check_s8(const mcf_qm_check_args *a, const int8_t *in, int8_t *out, int8_t *flag)
{
    const int32_t n = a->size, lo = a->lo, hi = a->hi;
    const int8_t *table = a->table;
    int outlier = 0;
    if (a->copy) {
        for (int32_t i = 0; i < n; ++i) {
            if (in[i] < lo || in[i] > hi) {
                outlier = 1;
                break;
            }
        }
    } else {
        for (int32_t i = 0; i < n; ++i) {
            const int32_t v = in[i];
            if (v < lo || v > hi) {
                outlier = 1;
                break;
            }
            out[i] = table[(uint8_t)(v + 128)];
        }
    }
    *flag = (int8_t)outlier;
    if ((outlier || a->copy) && out != in) {
        memcpy(out, in, (size_t)n);
    }
}
