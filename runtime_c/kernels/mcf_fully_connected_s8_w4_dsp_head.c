/* int8 fully connected classifier head with int4 weights on the DSP extension: one row, K a multiple of
 * 8 up to 504, at most 12 outputs (codegen/c/variants/dsp_fc_radix.py: head_ok), by mcf_sub_fc_head
 * alone (mcf_subbyte_dsp_fc.h). */
#include "mcf_subbyte_dsp.h"

void mcf_fully_connected_s8_w4_dsp_head(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out)
{
    mcf_sub_fc_head((const uint32_t *)(const void *)a->weights, in, out, a->bias, &a->rq, a->in_features,
                    a->out_features, (int32_t *)a->scratch, 4, a->block);
}
