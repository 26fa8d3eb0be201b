/*
 * int8 fully connected layer for cores with the DSP extension (Cortex-M4, M7, M33), without
 * scratch: the int8 input row is read in place and widened with SXTB16 inside the K loop.
 *
 * The DSP matrix kernel (mcf_conv2d_s8_dsp.c) widens the row into two int16 columns first
 * (4 * K bytes of scratch, 2.5 KB for ad_fcae's 640 inputs, which sets that model's arena peak)
 * and then runs 6 instructions per 8 MACs. Here four output channels share each widened input
 * word: per 4 inputs LDR, 2 x SXTB16, 2 x LDM of the four channels' doubled weights and 8 x SMLAD,
 * 13 instructions per 16 MACs (54 per 64 with the loop unrolled 4 times), and no scratch at all.
 * A leftover pair of channels and an odd last channel run compiled C loops.
 *
 * Compile-time preparation (variants/dsp_fc_row.py): the weights of mcf_conv2d_s8_dsp (doubled,
 * int16, in SXTB16 order per group of 4) regrouped as [C / 4][K / 4][4 channels][4 halfwords],
 * then a leftover pair as [K / 4][2][4], then an odd last channel as [K / 4][4]; packed_quant is
 * {2 * bias', m, rcz, e} per channel (mcf_opt.h). in_features % 4 == 0 (the variant accepts no
 * other), so no load reads past a row.
 */
#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"

/* In: the four accumulators, the end of the 4-times unrolled part of the row and the row's end;
 * out: the sums. `save` holds r4-r11 and lr while the loop runs (no stack: -fstack-usage sees
 * all of it as the caller's local). */
typedef struct {
    int32_t acc[4];
    const int8_t *end16, *end;
    uint32_t save[9];
} quad_state;

#define MCF_ROW_STEP                                                                \
    "ldr r5, [r12], #4\n\t"                                                         \
    "sxtb16 r6, r5, ror #8\n\t"                                                     \
    "sxtb16 r5, r5\n\t"                                                             \
    "ldmia lr!, {r8, r9, r10, r11}\n\t"                                             \
    "smlad r0, r8, r5, r0\n\t"                                                      \
    "smlad r0, r9, r6, r0\n\t"                                                      \
    "smlad r1, r10, r5, r1\n\t"                                                     \
    "smlad r1, r11, r6, r1\n\t"                                                     \
    "ldmia lr!, {r8, r9, r10, r11}\n\t"                                             \
    "smlad r4, r8, r5, r4\n\t"                                                      \
    "smlad r4, r9, r6, r4\n\t"                                                      \
    "smlad r7, r10, r5, r7\n\t"                                                     \
    "smlad r7, r11, r6, r7\n\t"

/*
 * Four channels' dot products with the row from x on: x in r0, weights in r1, the state in r2.
 * Accumulators r0, r1, r4, r7; x r12, weights lr; widened input r5 (even bytes), r6 (odd bytes);
 * weights r8-r11; the loop's end r3; the state stays in r2. Naked: all 14 registers are in use.
 */
static void __attribute__((naked, noinline)) quad_dot(const int8_t *x __attribute__((unused)),
                                                      const int32_t *w __attribute__((unused)),
                                                      quad_state *st __attribute__((unused)))
{
    __asm__ volatile(
        "add r3, r2, #24\n\t"
        "stmia r3, {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "mov r12, r0\n\t"
        "mov lr, r1\n\t"
        "ldm r2, {r0, r1, r4, r7}\n\t"
        "ldr r3, [r2, #16]\n\t"
        "cmp r12, r3\n\t"
        "beq 2f\n\t"
        "1:\n\t"
        MCF_ROW_STEP MCF_ROW_STEP MCF_ROW_STEP MCF_ROW_STEP
        "cmp r12, r3\n\t"
        "bne 1b\n\t"
        "2:\n\t"
        "ldr r3, [r2, #20]\n\t"
        "3:\n\t"
        "cmp r12, r3\n\t"
        "beq 4f\n\t"
        MCF_ROW_STEP
        "b 3b\n\t"
        "4:\n\t"
        "stm r2, {r0, r1, r4, r7}\n\t"
        "add r3, r2, #24\n\t"
        "ldmia r3, {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "bx lr\n\t");
}

void mcf_fully_connected_s8_dsp_row(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out)
{
    const int32_t k = a->in_features, n_out = a->out_features, steps = k >> 2;
    const int32_t lo = a->rq.act_min, hi = a->rq.act_max;
    for (int32_t r = 0; r < a->rows; ++r) {
        const int8_t *x = in + (size_t)r * k;
        int8_t *o = out + (size_t)r * n_out;
        const int32_t *wp = (const int32_t *)a->packed_weights;
        const int32_t *q = a->packed_quant;
        int32_t oc = 0;
        /* set field by field: an initializer would zero `save` too (a memset call per quad, 9 % of
         * ad_fcae's instructions); quad_dot writes it before it reads it */
        quad_state st;
        st.end16 = x + 16 * (steps >> 2);
        st.end = x + k;
        for (; oc + 4 <= n_out; oc += 4, q += 16, wp += 8 * steps) {
            st.acc[0] = q[0];
            st.acc[1] = q[4];
            st.acc[2] = q[8];
            st.acc[3] = q[12];
            quad_dot(x, wp, &st);
            o[oc] = mcf_dsp_store(st.acc[0], q, lo, hi);
            o[oc + 1] = mcf_dsp_store(st.acc[1], q + 4, lo, hi);
            o[oc + 2] = mcf_dsp_store(st.acc[2], q + 8, lo, hi);
            o[oc + 3] = mcf_dsp_store(st.acc[3], q + 12, lo, hi);
        }
        if (oc + 2 <= n_out) {      /* a leftover pair: per 4 inputs ch0's two words, then ch1's */
            int32_t a0 = q[0], a1 = q[4];
            wp = mcf_dsp_dot2(x, wp, steps, &a0, &a1);
            o[oc] = mcf_dsp_store(a0, q, lo, hi);
            o[oc + 1] = mcf_dsp_store(a1, q + 4, lo, hi);
            oc += 2;
            q += 8;
        }
        if (oc < n_out) {           /* the odd last channel */
            int32_t a0 = q[0];
            mcf_dsp_dot1(x, wp, steps, &a0);
            o[oc] = mcf_dsp_store(a0, q, lo, hi);
        }
    }
}
