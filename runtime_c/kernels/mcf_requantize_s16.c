/* Requantization between integer grids of different widths (TFLite's QUANTIZE int8 <-> int16):
 * y = clamp(MultiplyByQuantizedMultiplier(x - in_zp) + out_zp) to the output type. */
#include "mcf_arith.h"
#include "mcf_kernels.h"

#define MCF_REQUANT_LOOP(a, in, out, out_t)                                                       \
    for (int32_t i = 0; i < (a)->size; ++i) {                                                     \
        const int32_t y = mcf_requantize((int32_t)(in)[i] - (a)->in_zp, (a)->mult, (a)->shift) + (a)->out_zp; \
        (out)[i] = (out_t)MCF_CLAMP(y, (a)->out_min, (a)->out_max);                               \
    }

void mcf_requantize_s8_s16(const mcf_requantize_args *a, const int8_t *in, int16_t *out)
{
    MCF_REQUANT_LOOP(a, in, out, int16_t)
}

void mcf_requantize_s16_s8(const mcf_requantize_args *a, const int16_t *in, int8_t *out)
{
    MCF_REQUANT_LOOP(a, in, out, int8_t)
}

void mcf_requantize_s16_s16(const mcf_requantize_args *a, const int16_t *in, int16_t *out)
{
    MCF_REQUANT_LOOP(a, in, out, int16_t)
}
