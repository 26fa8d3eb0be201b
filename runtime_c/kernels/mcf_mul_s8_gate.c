/* int8 multiply where one operand is a gate repeated over the other: the gate's strides are the
 * contiguous ones on the trailing dims and 0 on the leading ones (an SE block's x * g with g of
 * shape [1, 1, 1, C] or [1, 1, W, C] against x [1, H, W, C]). Walks rows of the gate's length
 * instead of the broadcast odometer; the arithmetic is mcf_mul_s8's, so the bytes are the same.
 * With a right shift of 1..22 bits the requantization takes the tuned kernels' 32-bit form
 * (mcf_fast_requant.h), exact for |product| <= 255 * 255 < 2^29 and a multiplier >= 0. */
#include "mcf_arith.h"
#include "mcf_fast_requant.h"
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

/* The same rows with the 32-bit requantization: rcz = 2^(e-1) + out_zp 2^e. */
static void gate_rows_fast(const mcf_mul_s8_args *a, const int8_t *full, const int8_t *gate, int8_t *out,
                           int32_t full_zp, int32_t gate_zp, int32_t period)
{
    const int32_t e = -a->shift, m = a->mult, lo = a->act_min, hi = a->act_max;
    const int32_t rcz = (1 << (e - 1)) + a->out_zp * (1 << e);
    for (int32_t base = 0; base < a->bc.size; base += period) {
        for (int32_t i = 0; i < period; ++i) {
            const int32_t prod = (full[base + i] - full_zp) * (gate[i] - gate_zp);
            int32_t y = mcf_fast_requant(prod, m, rcz, e);
            y = y < lo ? lo : y;
            out[base + i] = (int8_t)(y > hi ? hi : y);
        }
    }
}

void mcf_mul_s8_gate(const mcf_mul_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    const int32_t gate_is_2 = gate_is_input2(&a->bc);
    const int32_t period = gate_period(&a->bc, gate_is_2 ? a->bc.b_strides : a->bc.a_strides);
    if (a->shift <= -1 && a->shift >= -22 && a->mult >= 0) {
        /* the product is symmetric: the full operand and the gate keep their own zero points */
        if (gate_is_2) {
            gate_rows_fast(a, in1, in2, out, a->in1_zp, a->in2_zp, period);
        } else {
            gate_rows_fast(a, in2, in1, out, a->in2_zp, a->in1_zp, period);
        }
        return;
    }
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
