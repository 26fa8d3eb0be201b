/* int8 multiply where one operand is a gate repeated over the other: the gate's strides are the
 * contiguous ones on the trailing dims and 0 on the leading ones (an SE block's x * g with g of
 * shape [1, 1, 1, C] or [1, 1, W, C] against x [1, H, W, C]). Walks rows of the gate's length
 * instead of the broadcast odometer; the arithmetic is mcf_mul_s8's, so the bytes are the same. */
#include "mcf_arith.h"
#include "mcf_kernels.h"

static inline int8_t mul_one(const mcf_mul_s8_args *a, int32_t x1, int32_t x2)
{
    const int32_t prod = (x1 - a->in1_zp) * (x2 - a->in2_zp);
    const int32_t y = mcf_requantize(prod, a->mult, a->shift) + a->out_zp;
    return mcf_sat_s8(y, a->act_min, a->act_max);
}

/* Elements of the repeated row: the product of the trailing dims the gate does not broadcast
 * (a broadcast dim has stride 0 and size > 1; dims of size 1 do not matter). */
static int32_t gate_period(const mcf_broadcast *bc, const int32_t *gate_strides)
{
    int32_t period = 1;
    for (int32_t d = bc->rank - 1; d >= 0 && (gate_strides[d] != 0 || bc->out_shape[d] == 1); --d) {
        period *= bc->out_shape[d];
    }
    return period;
}

/* Input 2 is the gate when it broadcasts some dim of size > 1 (the full operand never does). */
static int32_t gate_is_input2(const mcf_broadcast *bc)
{
    for (int32_t d = 0; d < bc->rank; ++d) {
        if (bc->out_shape[d] > 1 && bc->b_strides[d] == 0) {
            return 1;
        }
    }
    return 0;
}

void mcf_mul_s8_gate(const mcf_mul_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    const int32_t gate_is_2 = gate_is_input2(&a->bc);
    const int32_t period = gate_period(&a->bc, gate_is_2 ? a->bc.b_strides : a->bc.a_strides);
    for (int32_t base = 0; base < a->bc.size; base += period) {
        if (gate_is_2) {
            for (int32_t i = 0; i < period; ++i) {
                out[base + i] = mul_one(a, in1[base + i], in2[i]);
            }
        } else {
            for (int32_t i = 0; i < period; ++i) {
                out[base + i] = mul_one(a, in1[i], in2[base + i]);
            }
        }
    }
}
