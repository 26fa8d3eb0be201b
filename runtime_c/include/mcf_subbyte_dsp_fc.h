/*
 * mcf_subbyte_dsp_fc.h - one row of a fully connected layer with int4 / ternary weights on the DSP
 * extension (Cortex-M4 / M7 / M33), straight from the packed flash words ("radix" layout,
 * compiler/mcuforge/codegen/c/variants/dsp_fc_radix.py). Included by mcf_subbyte_dsp.h.
 *
 * A halfword holds one input k's weights of P output channels (P = 4 int4, 8 ternary): field j at
 * bits b j (b = 4 / 2), the low fields offset binary n = w + o (o = 8 / 1), the top field two's
 * complement, so the signed halfword is h = sum_{j<P-1} n_j R^j + R^(P-1) w_top (R = 2^b). A word
 * holds inputs (k, k + 2), and the x operand is the row widened by SXTB16, shared by every field:
 *     r_j   += SMLAD(u & m_j, x)     (m_j = (R - 1) R^j in both halves, a Thumb-2 immediate)
 *     r_top += SMLAD(u, x)           (the raw word)
 * give r_j = R^j (W_j + o S) and r_top = sum r_j + R^(P-1) W_top (S = sum x), hence
 *     W_j = (r_j >> b j) - o S,   W_top = (r_top - sum r_j) >> b (P - 1)   (mod 2^32, exact)
 * while |r_j| < 2^31 and |R^(P-1) W_top| < 2^31 (|x| <= 128: int4 up to 585 inputs, ternary 1023;
 * the compiler picks the chunk, dsp_fc_radix.py: chunk_steps, and the sums are decoded after each).
 * The loops take the fields by prefix masks, cleared in place (MCF_FC4_WORD below: the same sums
 * mod 2^32, no temporary register). Per 16 MACs int4 6 BIC / AND + 8 SMLAD + one load (LDMs of 4
 * weight words and of 4 widened x words), the loop 2 per 128 MACs: 15.25 instructions; ternary
 * 7 BIC / AND + 8 SMLAD + one load (LDRDs of two weight words and of two x words) + 1/4 loop: 16.25.
 *
 * Scratch (int32 words): per chunk its widened row (4 words a step of 8 inputs: per group of 4 K
 * (x0, x2), (x1, x3), zero past K), then MCF_SUB_FC_STATE words: the chunk's 8 dot products, the
 * caller's r4-r11, lr (the loops and the output routine are naked and use no stack), and in the
 * first chunk's the output routine's 8 parameters (MCF_FC_PARAMS).
 */
#ifndef MCF_SUBBYTE_DSP_FC_H
#define MCF_SUBBYTE_DSP_FC_H

#include "mcf_arith.h"
#include "mcf_opt.h"
#include "mcf_subbyte.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#define MCF_SUB_FC_STATE 25     /* dsp_fc_radix.py: STATE_WORDS */
#define MCF_SUB_FC_CHUNK 0xFFFF /* `block`: the chunk length in steps */
#define MCF_SUB_FC_LSH 0x10000  /* `block`: some channel shifts left */

/* The loops: r0 = weights (returned advanced), r1 = x words, r2 = their end (the state words);
 * 16 x bytes a step of 8 inputs, four (int4) / two (ternary) steps a pass, entered by the count
 * of steps modulo that. They save the caller's r4-r11, lr at r2[8..16] and leave the chunk's dot
 * products at r2[0 .. P-1], decoded: low fields W_j + o S_chunk, the top field W_top. */
#define MCF_FC_LOOP(name)                                                           \
    static __attribute__((naked, noinline, unused)) const uint32_t *name(            \
        const uint32_t *w __attribute__((unused)), const int32_t *x __attribute__((unused)), \
        int32_t *xend __attribute__((unused)))

#define MCF_FC_SAVE                                                                 \
    "add r12, r2, #32\n\t"                                                          \
    "stm r12, {r4-r11, lr}\n\t"

#define MCF_FC_TAIL(decode, sums)                                                   \
    "cmp r1, r2\n\t"                                                                \
    "bne 1b\n\t"                                                                    \
    decode                                                                          \
    "stm r2, {" sums "}\n\t"                                                        \
    "add r12, r2, #32\n\t"                                                          \
    "ldm r12, {r4-r11, pc}\n\t"

/* Prefix masks, in place: per weight word u the raw SMLAD, then the fields cleared from the top down
 * (BIC of field P-1, then P-2, ..., AND leaving field 0), an SMLAD after each, into the prefix sums
 *     p_top = sum SMLAD(u, x),   p_j = sum SMLAD(u & (R^(j+1) - 1 in both halves), x)
 * so field j's sum R^j (W_j + o S) = p_j - p_(j-1) and R^(P-1) W_top = p_top - p_(P-2) (mod 2^32:
 * the same numbers as per-field masks, so the same exactness bounds). Clearing in place needs no
 * temporary register, which frees one for the loads: the x words come by LDM of 4 (int4) and the
 * weight words by LDRD (ternary). Neither loop has a register for its end: the head stores the
 * sentinel 0x80008000 at xend (widened x halfwords are in [-128, 127], so no x word equals it),
 * x is loaded a step ahead, and a pass ends on reading it (xend = r1 - 16 / - 8 then).
 *
 * int4: prefix sums r3 (p0), r4 (p1), r5 (p2), r6 (raw); weight words r7-r10 (LDM of 4), x words
 * r2, r11, r12, lr (LDM of 4). A step of 8 inputs: 2 LDM, 12 BIC / AND, 16 SMLAD: 30 instructions
 * per 32 MACs, four steps a pass + CMP / BNE: 15.25 per 16 MACs (was 15.75 with a mask temporary). */
#define MCF_FC4_WORDS(u, x, p0, p1, p2, raw)                                        \
    "smlad " raw ", " u ", " x ", " raw "\n\t"                                      \
    "bic " u ", " u ", #0xF000F000\n\t"                                             \
    "smlad " p2 ", " u ", " x ", " p2 "\n\t"                                        \
    "bic " u ", " u ", #0x0F000F00\n\t"                                             \
    "smlad " p1 ", " u ", " x ", " p1 "\n\t"                                        \
    "and " u ", " u ", #0x000F000F\n\t"                                             \
    "smlad " p0 ", " u ", " x ", " p0 "\n\t"
#define MCF_FC4_WORD(u, x) MCF_FC4_WORDS(u, x, "r3", "r4", "r5", "r6")
/* the prefix sums p0 .. raw -> the group's dot products (field j: W_j + o S, top: W_top) */
#define MCF_FC4_DECODE(p0, p1, p2, raw)                                             \
    "subs " raw ", " raw ", " p2 "\n\t" "asrs " raw ", " raw ", #12\n\t"              \
    "subs " p2 ", " p2 ", " p1 "\n\t" "asrs " p2 ", " p2 ", #8\n\t"                   \
    "subs " p1 ", " p1 ", " p0 "\n\t" "asrs " p1 ", " p1 ", #4\n\t"

#define MCF_FC4_STEP                                                                \
    "ldmia r0!, {r7, r8, r9, r10}\n\t"                                              \
    MCF_FC4_WORD("r7", "r2") MCF_FC4_WORD("r8", "r11")                              \
    MCF_FC4_WORD("r9", "r12") MCF_FC4_WORD("r10", "lr")                             \
    "ldmia r1!, {r2, r11, r12, lr}\n\t"

MCF_FC_LOOP(mcf_sub_fc_radix4)
{
    __asm__ volatile(
        "mov r3, #0x80008000\n\t"
        "str r3, [r2]\n\t"
        MCF_FC_SAVE
        "movs r3, #0\n\t" "movs r4, #0\n\t" "movs r5, #0\n\t" "movs r6, #0\n\t"
        "sub r7, r2, r1\n\t"                  /* 16 x the steps; four a pass, entered by their count mod 4 */
        "and r7, r7, #48\n\t"
        "ldmia r1!, {r2, r11, r12, lr}\n\t"
        "cmp r7, #0\n\t"
        "beq 1f\n\t"
        "cmp r7, #32\n\t"
        "blo 4f\n\t"
        "beq 3f\n\t"
        "b 2f\n\t"
        "1:\n\t"
        MCF_FC4_STEP
        "2:\n\t"
        MCF_FC4_STEP
        "3:\n\t"
        MCF_FC4_STEP
        "4:\n\t"
        MCF_FC4_STEP
        "cmp r2, #0x80008000\n\t"
        "bne 1b\n\t"
        "sub r2, r1, #16\n\t"
        MCF_FC4_DECODE("r3", "r4", "r5", "r6")
        "stm r2, {r3-r6}\n\t"
        "add r12, r2, #32\n\t"
        "ldm r12, {r4-r11, pc}\n\t");
}

/* ternary: prefix sums r3 (p0) .. r9 (p6), r10 (raw); weight words r11, lr (LDRD), x words r2, r12
 * (LDRD). Per weight word (16 MACs) 7 BIC / AND + 8 SMLAD + one LDRD per two words for each of w
 * and x: 16, two steps a pass + CMP / BNE: 16.25 (was 16.75). */
#define MCF_FC2_WORD(u, x)                                                          \
    "smlad r10, " u ", " x ", r10\n\t"                                              \
    "bic " u ", " u ", #0xC000C000\n\t"                                             \
    "smlad r9, " u ", " x ", r9\n\t"                                                \
    "bic " u ", " u ", #0x30003000\n\t"                                             \
    "smlad r8, " u ", " x ", r8\n\t"                                                \
    "bic " u ", " u ", #0x0C000C00\n\t"                                             \
    "smlad r7, " u ", " x ", r7\n\t"                                                \
    "bic " u ", " u ", #0x03000300\n\t"                                             \
    "smlad r6, " u ", " x ", r6\n\t"                                                \
    "bic " u ", " u ", #0x00C000C0\n\t"                                             \
    "smlad r5, " u ", " x ", r5\n\t"                                                \
    "bic " u ", " u ", #0x00300030\n\t"                                             \
    "smlad r4, " u ", " x ", r4\n\t"                                                \
    "and " u ", " u ", #0x00030003\n\t"                                             \
    "smlad r3, " u ", " x ", r3\n\t"

/* the prefix sums r3 .. r10 -> the dot products (fields 0-6: W_j + S, the top one W_7) */
#define MCF_FC2_DECODE                                                              \
    "subs r10, r10, r9\n\t" "asrs r10, r10, #14\n\t"                              \
    "subs r9, r9, r8\n\t" "asrs r9, r9, #12\n\t"                                  \
    "subs r8, r8, r7\n\t" "asrs r8, r8, #10\n\t"                                  \
    "subs r7, r7, r6\n\t" "asrs r7, r7, #8\n\t"                                   \
    "subs r6, r6, r5\n\t" "asrs r6, r6, #6\n\t"                                   \
    "subs r5, r5, r4\n\t" "asrs r5, r5, #4\n\t"                                   \
    "subs r4, r4, r3\n\t" "asrs r4, r4, #2\n\t"

/* a step of 8 inputs with its first x pair already in r2, r12 */
#define MCF_FC2_STEP                                                                \
    "ldrd r11, lr, [r0], #8\n\t"                                                    \
    MCF_FC2_WORD("r11", "r2") MCF_FC2_WORD("lr", "r12")                             \
    "ldrd r2, r12, [r1], #8\n\t"                                                    \
    "ldrd r11, lr, [r0], #8\n\t"                                                    \
    MCF_FC2_WORD("r11", "r2") MCF_FC2_WORD("lr", "r12")                             \
    "ldrd r2, r12, [r1], #8\n\t"

MCF_FC_LOOP(mcf_sub_fc_radix2)
{
    __asm__ volatile(
        "mov r3, #0x80008000\n\t"
        "str r3, [r2]\n\t"
        MCF_FC_SAVE
        "movs r3, #0\n\t" "movs r4, #0\n\t" "movs r5, #0\n\t" "movs r6, #0\n\t"
        "mov r7, r3\n\t" "mov r8, r3\n\t" "mov r9, r3\n\t" "mov r10, r3\n\t"
        "sub lr, r2, r1\n\t"
        "ldrd r2, r12, [r1], #8\n\t"
        "tst lr, #16\n\t"
        "bne 2f\n\t"
        "1:\n\t"
        MCF_FC2_STEP
        "2:\n\t"
        MCF_FC2_STEP
        "cmp r2, #0x80008000\n\t"
        "bne 1b\n\t"
        "sub r2, r1, #8\n\t"
        MCF_FC2_DECODE
        "stm r2, {r3-r10}\n\t"
        "add r12, r2, #32\n\t"
        "ldm r12, {r4-r11, pc}\n\t");
}

/* A narrower last group (dsp_fc_radix.py: last_width): 2 channels in 8-bit fields / 1 channel in
 * 16 bits, every field offset binary, so the decoded sums are W_j + o S like the low fields of a
 * full group (the out routine adds o S to field P - 1, which such a group does not output). A step
 * of 8 inputs: LDM of 4 weight words and of 4 x words, then per word the raw SMLAD (the top sum)
 * and, for 2 channels, one AND + SMLAD: 14 (2 channels) / 6 (1 channel) instructions per 8 inputs,
 * against 31 (int4) / 66 (ternary) for a padded full group. Sums r3 (field 0), r4 (raw); weight
 * words r5-r8, x words r9-r12, mask temp lr. */
#define MCF_FC8_WORD(u, x)                                                          \
    "smlad r4, " u ", " x ", r4\n\t"                                                \
    "and lr, " u ", #0x00FF00FF\n\t"                                                \
    "smlad r3, lr, " x ", r3\n\t"

#define MCF_FC8_STEP                                                                \
    "ldmia r0!, {r5, r6, r7, r8}\n\t"                                               \
    "ldmia r1!, {r9, r10, r11, r12}\n\t"                                            \
    MCF_FC8_WORD("r5", "r9") MCF_FC8_WORD("r6", "r10")                              \
    MCF_FC8_WORD("r7", "r11") MCF_FC8_WORD("r8", "r12")

#define MCF_FC16_STEP                                                               \
    "ldmia r0!, {r5, r6, r7, r8}\n\t"                                               \
    "ldmia r1!, {r9, r10, r11, r12}\n\t"                                            \
    "smlad r3, r5, r9, r3\n\t"                                                      \
    "smlad r3, r6, r10, r3\n\t"                                                     \
    "smlad r3, r7, r11, r3\n\t"                                                     \
    "smlad r3, r8, r12, r3\n\t"

/* four steps a pass, entered by the count of steps (16 x bytes each) modulo 4 */
#define MCF_FC_PASS4(step)                                                          \
    "sub lr, r2, r1\n\t"                                                            \
    "ands lr, lr, #48\n\t"                                                          \
    "beq 1f\n\t"                                                                    \
    "cmp lr, #32\n\t"                                                               \
    "blo 4f\n\t"                                                                    \
    "beq 3f\n\t"                                                                    \
    "b 2f\n\t"                                                                      \
    "1:\n\t" step "2:\n\t" step "3:\n\t" step "4:\n\t" step

MCF_FC_LOOP(mcf_sub_fc_radix8)
{
    __asm__ volatile(
        MCF_FC_SAVE
        "movs r3, #0\n\t" "movs r4, #0\n\t"
        MCF_FC_PASS4(MCF_FC8_STEP)
        MCF_FC_TAIL("subs r4, r4, r3\n\t" "asrs r4, r4, #8\n\t", "r3, r4"));
}

MCF_FC_LOOP(mcf_sub_fc_radix16)
{
    __asm__ volatile(
        MCF_FC_SAVE
        "movs r3, #0\n\t"
        MCF_FC_PASS4(MCF_FC16_STEP)
        MCF_FC_TAIL("", "r3"));
}

/* The parameters of the output routine, in the first chunk's state words after the saved registers:
 * out (advanced per group), out_end, bm (the (2 bias', m) pairs, advanced), sh (the exponents,
 * advanced), zp1 = 1 + 2 out_zp, act_min, act_max, corr = o S. */
#define MCF_FC_PARAMS 17

/* The outputs of one group of P channels (those before out_end) from the dot products st[0 .. P-1]:
 * dot = st[j] - corr (st[top] + corr first: the top field has no offset). A right shift e >= 1 by
 * mcf_dsp_requant (rcz = 2^(e-1) + out_zp 2^e = zp1 2^(e-1)), a channel stored with e = -s <= 0
 * (multiplier >= 1/2, its bias stored as 2^(s+1) bias') as floor((A m + 2^31) / 2^32) + out_zp =
 * SMMLAR(A, m, out_zp), A = 2^(s+1) (bias' + dot): TFLite's SRDHM(2^s x, m) (see DW3_RQ0 in
 * mcf_depthwise_conv2d_s8_dsp3x3.c); |A| < 2^31 (variants/dsp_subbyte.py: _lsh_ok). 18 instructions an
 * output (TFLite double rounding; the clamp to [lo, hi] by SSUB8 / SEL on byte 0 after the SSAT, 14
 * where the layer's range is all of int8). Registers: r0 st, r1 dots, r2 out, r3 end, r4 bm, r5 sh,
 * r6 zp1, r7 lo, r8 hi, r9 corr; r10 dot / A, r11 e, r12 2 bias' / rcz, lr m / y. No stack. */
#define MCF_FC_OUT(top, lsh_check, clamp)                                           \
    "add.w r1, r0, #32\n\t"                                                         \
    "stm.w r1, {r4-r11, lr}\n\t"                                                    \
    /* the body: MCF_FC_OUT_SKIP bytes in, where a head's loop jumps with the caller's registers \
     * saved at st[8 .. 16] already */                                              \
    "add r1, r0, #68\n\t"                                                           \
    "ldm r1, {r2-r9}\n\t"                                                           \
    "ldr r10, [r0, #" #top " * 4]\n\t"                                              \
    "add r10, r10, r9\n\t"                                                          \
    "str r10, [r0, #" #top " * 4]\n\t"                                              \
    "add r10, r2, #" #top " + 1\n\t"                                                \
    "cmp r10, r3\n\t"                                                               \
    "it lt\n\t"                                                                     \
    "movlt r3, r10\n\t"                                                             \
    "mov r1, r0\n\t"                                                                \
    "1:\n\t"                                                                        \
    "ldr r10, [r1], #4\n\t"                                                         \
    "ldrsb r11, [r5], #1\n\t"                                                       \
    "ldrd r12, lr, [r4], #8\n\t"                                                    \
    "sub r10, r10, r9\n\t"                                                          \
    lsh_check                                                                       \
    "add r10, r12, r10, lsl #1\n\t"                                                 \
    "sub r12, r11, #1\n\t"                                                          \
    "lsl r12, r6, r12\n\t"                                                          \
    MCF_DSP_RQ_ASM("lr", "r10", "lr", "r12", "r11")                                 \
    "2:\n\t"                                                                        \
    "ssat lr, #8, lr\n\t"                                                           \
    clamp                                                                           \
    "strb lr, [r2], #1\n\t"                                                         \
    "cmp r2, r3\n\t"                                                                \
    "bne 1b\n\t"                                                                    \
    "str r2, [r0, #68]\n\t"                                                         \
    "strd r4, r5, [r0, #76]\n\t"                                                    \
    "add r1, r0, #32\n\t"                                                           \
    "ldm r1, {r4-r11, pc}\n\t"                                                      \
    "3:\n\t"                                                                        \
    "rsb r11, r11, #0\n\t"                                                          \
    "lsl r10, r10, r11\n\t"                                                         \
    "add r10, r12, r10, lsl #1\n\t"                                                 \
    "sub r12, r6, #1\n\t"                                                           \
    "asr r12, r12, #1\n\t"                                                          \
    "smmlar lr, r10, lr, r12\n\t"                                                   \
    "b 2b\n\t"

#define MCF_FC_LSH "cmp r11, #0\n\t" "ble 3f\n\t"
/* the clamp to [lo, hi] on byte 0 (left out where the layer's range is all of int8: SSAT does it) */
#define MCF_FC_CLAMP "ssub8 r12, lr, r7\n\t" "sel lr, lr, r7\n\t" "ssub8 r12, r8, lr\n\t" "sel lr, lr, r8\n\t"

#define MCF_FC_OUT_SKIP 8       /* the two 32-bit instructions (.w) that save the caller's registers */

/* P = 4 / 8; _r: layers without left shifts (every e >= 1: no test an output); _n: layers whose
 * clamp is all of int8 (no activation) */
#define MCF_FC_OUT_FN(name, top, lsh_check, clamp)                                  \
    static __attribute__((naked, noinline, unused)) void name(int32_t *st __attribute__((unused))) \
    {                                                                               \
        __asm__ volatile(MCF_FC_OUT(top, lsh_check, clamp));                        \
    }

MCF_FC_OUT_FN(mcf_sub_fc_out4, 3, MCF_FC_LSH, MCF_FC_CLAMP)
MCF_FC_OUT_FN(mcf_sub_fc_out2, 7, MCF_FC_LSH, MCF_FC_CLAMP)
MCF_FC_OUT_FN(mcf_sub_fc_out4_r, 3, "", MCF_FC_CLAMP)
MCF_FC_OUT_FN(mcf_sub_fc_out2_r, 7, "", MCF_FC_CLAMP)
MCF_FC_OUT_FN(mcf_sub_fc_out4_n, 3, MCF_FC_LSH, "")
MCF_FC_OUT_FN(mcf_sub_fc_out2_n, 7, MCF_FC_LSH, "")
MCF_FC_OUT_FN(mcf_sub_fc_out4_rn, 3, "", "")
MCF_FC_OUT_FN(mcf_sub_fc_out2_rn, 7, "", "")

typedef void (*mcf_sub_fc_outf)(int32_t *);

#define MCF_FC_OUT_PICK(P)                                                          \
    (lsh ? (clamp ? mcf_sub_fc_out##P : mcf_sub_fc_out##P##_n)                       \
         : (clamp ? mcf_sub_fc_out##P##_r : mcf_sub_fc_out##P##_rn))

/* The layer's output routine: left shifts (bit 16 of `block`) and a clamp narrower than int8. */
static inline __attribute__((always_inline)) mcf_sub_fc_outf mcf_sub_fc_out(int32_t block, const mcf_requant_sub *rq,
                                                                           int32_t bits)
{
    const int32_t lsh = block & MCF_SUB_FC_LSH, clamp = rq->act_min > -128 || rq->act_max < 127;
    return bits == 4 ? MCF_FC_OUT_PICK(4) : MCF_FC_OUT_PICK(2);
}

/* ... the address of its body, for a head loop's tail (bit 0 set: Thumb) */
static inline __attribute__((always_inline)) int32_t mcf_sub_fc_out_body(int32_t block, const mcf_requant_sub *rq,
                                                                         int32_t bits)
{
    return (int32_t)((uintptr_t)mcf_sub_fc_out(block, rq, bits) + MCF_FC_OUT_SKIP);
}

/* Heads (`block` & MCF_SUB_FC_HEAD; dsp_fc_radix.py: head_ok): K a multiple of 8 up to 504, at most
 * 12 outputs. No widening pass: each loop widens the row itself (LDR of 4 inputs, 2 SXTB16, shared
 * by every channel of the call) and the first one also sums it (S in two 16-bit lanes: 2 SADD16 per
 * 4 inputs, |lane| <= 252 * 128), so the scratch is the state words alone. An 8-channel loop (int4:
 * two groups, their words interleaved per 4 inputs; ternary: one group) has no register for an end:
 * it stops on a sentinel word after its weights (a low field n = w + o is never 0 in int4, never 3 in
 * ternary). The loops are naked and use no stack of their own: st, the state, is their fifth
 * argument, in the caller's outgoing argument area at [sp]. They do not return: their tail stores the
 * sums, o S (the first loop), w advanced at st[MCF_FC_HW] and jumps to the output routine's body at
 * st[MCF_FC_HOUT] (mcf_sub_fc_out_body), which returns to their caller: one save and restore of the
 * caller's registers for both. */
#define MCF_SUB_FC_HEAD 0x20000 /* `block`: dsp_fc_radix.py HEAD_FLAG */
#define MCF_FC_HOUT 25          /* dsp_fc_radix.py: HEAD_STATE_WORDS = 27 */
#define MCF_FC_HW 26
#define MCF_FC_HLOOP(name)                                                          \
    static __attribute__((naked, noinline, unused)) void name(                       \
        const uint32_t *w __attribute__((unused)), const int8_t *x __attribute__((unused)), \
        const int8_t *xend __attribute__((unused)), int32_t sh __attribute__((unused)), \
        int32_t *st __attribute__((unused)))

#define MCF_FCH_SAVE "ldr r12, [sp]\n\t" "add r12, r12, #32\n\t" "stm r12, {r4-r11, lr}\n\t"
/* 4 inputs of the row widened: xe r11 = (x0, x2), xo r12 = (x1, x3); S += their lanes */
#define MCF_FCH_X "ldr r12, [r1], #4\n\t" "sxtb16 r11, r12\n\t" "sxtb16 r12, r12, ror #8\n\t"
#define MCF_FCH_S(s) "sadd16 " s ", " s ", r11\n\t" "sadd16 " s ", " s ", r12\n\t"
#define MCF_FCH_SUM(s) "sxth r11, " s "\n\t" "add " s ", r11, " s ", asr #16\n\t"
/* the end: the sums to st[0 ..], w to st[26], then the output routine's body with r0 = st */
#define MCF_FCH_RET(sums, corr)                                                     \
    "ldr r12, [sp]\n\t"                                                             \
    "stm r12, {" sums "}\n\t"                                                       \
    corr                                                                            \
    "str r0, [r12, #104]\n\t"                                                       \
    "mov r0, r12\n\t"                                                               \
    "ldr pc, [r12, #100]\n\t"

/* the 8-channel loops' sums r3-r10 zeroed; without _s: the first two weight words, the loop's label */
#define MCF_FCH_ZERO8                                                               \
    "movs r3, #0\n\t" "movs r4, #0\n\t" "movs r5, #0\n\t" "movs r6, #0\n\t"             \
    "movs r7, #0\n\t" "mov r8, r3\n\t" "mov r9, r3\n\t" "mov r10, r3\n\t"
#define MCF_FCH_WIDE_ENTRY MCF_FCH_ZERO8 "ldrd r2, lr, [r0], #8\n\t" "1:\n\t"

/* int4, two groups of 4 channels: prefix sums A r3-r6, B r7-r10, weight words A_e, B_e, A_o, B_o per
 * 4 inputs. A's top field leaves as W_3 + 8 S, so that the 8-channel output routine (top field 7)
 * decodes all 8. _s (the layer's first loop): S in r2, so single LDRs of the weights (lr); per 4
 * inputs (32 MACs) 4 LDR + 1 LDR / 2 SXTB16 / 2 SADD16 of x + 12 BIC / AND + 16 SMLAD, 1/4 of loop:
 * 37.25 instructions; it stores o S = 8 S at st[24]. Without _s (a narrower loop ran first and
 * stored o S): the weights by LDRD (r2, lr), 33.25. */
#define MCF_FCH4X2_X                                                                \
    MCF_FCH_X                                                                       \
    MCF_FC4_WORDS("r2", "r11", "r3", "r4", "r5", "r6")                              \
    MCF_FC4_WORDS("lr", "r11", "r7", "r8", "r9", "r10") "ldrd r2, lr, [r0], #8\n\t" \
    MCF_FC4_WORDS("r2", "r12", "r3", "r4", "r5", "r6")                              \
    MCF_FC4_WORDS("lr", "r12", "r7", "r8", "r9", "r10") "ldrd r2, lr, [r0], #8\n\t"

MCF_FC_HLOOP(mcf_sub_fc_h4x2)
{
    __asm__ volatile(
        MCF_FCH_SAVE
        MCF_FCH_WIDE_ENTRY
        MCF_FCH4X2_X MCF_FCH4X2_X
        "tst r2, #15\n\t"
        "bne 1b\n\t"
        "sub r0, r0, #4\n\t"                  /* past the sentinel only */
        MCF_FC4_DECODE("r3", "r4", "r5", "r6") MCF_FC4_DECODE("r7", "r8", "r9", "r10")
        "ldr r12, [sp]\n\t"
        "ldr r2, [r12, #96]\n\t"
        "add r6, r6, r2\n\t"
        MCF_FCH_RET("r3-r10", ""));
}

#define MCF_FCH4X2S_X                                                               \
    MCF_FCH_X MCF_FCH_S("r2")                                                       \
    MCF_FC4_WORDS("lr", "r11", "r3", "r4", "r5", "r6") "ldr lr, [r0], #4\n\t"        \
    MCF_FC4_WORDS("lr", "r11", "r7", "r8", "r9", "r10") "ldr lr, [r0], #4\n\t"       \
    MCF_FC4_WORDS("lr", "r12", "r3", "r4", "r5", "r6") "ldr lr, [r0], #4\n\t"        \
    MCF_FC4_WORDS("lr", "r12", "r7", "r8", "r9", "r10") "ldr lr, [r0], #4\n\t"

MCF_FC_HLOOP(mcf_sub_fc_h4x2_s)
{
    __asm__ volatile(
        MCF_FCH_SAVE
        "movs r2, #0\n\t" MCF_FCH_ZERO8
        "ldr lr, [r0], #4\n\t"
        "1:\n\t"
        MCF_FCH4X2S_X MCF_FCH4X2S_X
        "tst lr, #15\n\t"
        "bne 1b\n\t"
        MCF_FC4_DECODE("r3", "r4", "r5", "r6") MCF_FC4_DECODE("r7", "r8", "r9", "r10")
        MCF_FCH_SUM("r2")
        "lsl r2, r2, #3\n\t"
        "add r6, r6, r2\n\t"
        MCF_FCH_RET("r3-r10", "str r2, [r12, #96]\n\t"));
}

/* ternary, one group of 8: prefix sums r3-r10. _s: S r2, weight words lr; per 4 inputs (32 MACs) 2
 * LDR + 1 LDR / 2 SXTB16 / 2 SADD16 of x + 14 BIC / AND + 16 SMLAD, 1/4 of loop: 37.25; it stores
 * o S = S at st[24]. Without _s: the two words by LDRD (r2, lr): 34.25. */
#define MCF_FCH2_X                                                                  \
    MCF_FCH_X                                                                       \
    MCF_FC2_WORD("r2", "r11") MCF_FC2_WORD("lr", "r12") "ldrd r2, lr, [r0], #8\n\t"

MCF_FC_HLOOP(mcf_sub_fc_h2)
{
    __asm__ volatile(
        MCF_FCH_SAVE
        MCF_FCH_WIDE_ENTRY
        MCF_FCH2_X MCF_FCH2_X
        "cmn r2, #1\n\t"
        "bne 1b\n\t"
        "sub r0, r0, #4\n\t"
        MCF_FC2_DECODE
        MCF_FCH_RET("r3-r10", ""));
}

#define MCF_FCH2S_X                                                                 \
    MCF_FCH_X MCF_FCH_S("r2")                                                       \
    MCF_FC2_WORD("lr", "r11") "ldr lr, [r0], #4\n\t"                                \
    MCF_FC2_WORD("lr", "r12") "ldr lr, [r0], #4\n\t"

MCF_FC_HLOOP(mcf_sub_fc_h2_s)
{
    __asm__ volatile(
        MCF_FCH_SAVE
        "movs r2, #0\n\t" MCF_FCH_ZERO8
        "ldr lr, [r0], #4\n\t"
        "1:\n\t"
        MCF_FCH2S_X MCF_FCH2S_X
        "cmn lr, #1\n\t"
        "bne 1b\n\t"
        MCF_FC2_DECODE
        MCF_FCH_SUM("r2")
        MCF_FCH_RET("r3-r10", "str r2, [r12, #96]\n\t"));
}

/* The last group of a head, or its only one: 4 channels in 4-bit fields (an int4 group, or a ternary
 * one with every field offset binary), 2 in 8-bit, 1 in 16-bit fields (as mcf_sub_fc_radix4 / 8 / 16),
 * weight words r9, r10 by LDRD, the end in r2. _s: the layer's first loop, which sums the row too
 * (r7) and stores o S = S << sh (r8) at st[24]. */
#define MCF_FCHQ_X MCF_FCH_X "ldrd r9, r10, [r0], #8\n\t"                           \
    MCF_FC4_WORDS("r9", "r11", "r3", "r4", "r5", "r6") MCF_FC4_WORDS("r10", "r12", "r3", "r4", "r5", "r6")
#define MCF_FCH8_X MCF_FCH_X "ldrd r9, r10, [r0], #8\n\t"                           \
    MCF_FC8_WORD("r9", "r11") MCF_FC8_WORD("r10", "r12")
#define MCF_FCH16_X MCF_FCH_X "ldrd r9, r10, [r0], #8\n\t"                          \
    "smlad r3, r9, r11, r3\n\t" "smlad r3, r10, r12, r3\n\t"
#define MCF_FCH_ZERO4 "movs r3, #0\n\t" "movs r4, #0\n\t" "movs r5, #0\n\t" "movs r6, #0\n\t"
#define MCF_FCH_NARROW(name, zero, step, decode, sums)                              \
    MCF_FC_HLOOP(name)                                                              \
    {                                                                               \
        __asm__ volatile(                                                           \
            MCF_FCH_SAVE zero                                                       \
            "1:\n\t" step step                                                      \
            "cmp r1, r2\n\t"                                                        \
            "bne 1b\n\t"                                                            \
            decode                                                                  \
            MCF_FCH_RET(sums, ""));                                                 \
    }                                                                               \
    MCF_FC_HLOOP(name##_s)                                                          \
    {                                                                               \
        __asm__ volatile(                                                           \
            MCF_FCH_SAVE "mov r8, r3\n\t" "movs r7, #0\n\t" zero                    \
            "1:\n\t" step MCF_FCH_S("r7") step MCF_FCH_S("r7")                      \
            "cmp r1, r2\n\t"                                                        \
            "bne 1b\n\t"                                                            \
            decode                                                                  \
            MCF_FCH_SUM("r7")                                                       \
            "lsl r7, r7, r8\n\t"                                                    \
            MCF_FCH_RET(sums, "str r7, [r12, #96]\n\t"));                           \
    }

MCF_FCH_NARROW(mcf_sub_fc_hq, MCF_FCH_ZERO4, MCF_FCHQ_X, MCF_FC4_DECODE("r3", "r4", "r5", "r6"), "r3-r6")
MCF_FCH_NARROW(mcf_sub_fc_h8, "movs r3, #0\n\t" "movs r4, #0\n\t", MCF_FCH8_X,
               "subs r4, r4, r3\n\t" "asrs r4, r4, #8\n\t", "r3, r4")
MCF_FCH_NARROW(mcf_sub_fc_h16, "movs r3, #0\n\t", MCF_FCH16_X, "", "r3")

/* `pairs` >= 1 pairs of groups of 4 inputs widened into buf ((x0, x2), (x1, x3) each), their sum
 * added to sx: per pair 2 LDR (unaligned x is fine), 4 SXTB16, one STM, 3 SADD16 of the lanes
 * (|lane| <= 4 * 128) and one SMLAD. */
static inline int32_t mcf_sub_fc_widen_pairs(const int8_t *x, int32_t *buf, int32_t pairs, int32_t sx)
{
    register uint32_t e0 __asm__("r4"), v0 __asm__("r5"), e1 __asm__("r6"), v1 __asm__("r7");
    const int8_t *const end = x + 8 * pairs;
    __asm__ volatile(
        "1:\n\t"
        "ldr %[v0], [%[x]], #4\n\t"
        "ldr %[v1], [%[x]], #4\n\t"
        "sxtb16 %[e0], %[v0]\n\t"
        "sxtb16 %[v0], %[v0], ror #8\n\t"
        "sxtb16 %[e1], %[v1]\n\t"
        "sxtb16 %[v1], %[v1], ror #8\n\t"
        "stmia %[b]!, {%[e0], %[v0], %[e1], %[v1]}\n\t"
        "sadd16 %[e0], %[e0], %[v0]\n\t"
        "sadd16 %[e1], %[e1], %[v1]\n\t"
        "sadd16 %[e0], %[e0], %[e1]\n\t"
        "smlad %[sx], %[e0], %[one], %[sx]\n\t"
        "cmp %[x], %[end]\n\t"
        "bne 1b\n\t"
        : [x] "+r"(x), [b] "+r"(buf), [sx] "+r"(sx), [e0] "=&r"(e0), [v0] "=&r"(v0), [e1] "=&r"(e1),
          [v1] "=&r"(v1)
        : [end] "r"(end), [one] "r"(0x00010001u)
        : "cc", "memory");
    return sx;
}

/* The row widened into the scratch, chunk after chunk (`chunk` steps of 8 inputs each, then the
 * state words); returns S = sum x. */
static inline int32_t mcf_sub_fc_widen(const int8_t *x, int32_t k, int32_t *buf, int32_t chunk)
{
    const int32_t steps = (k + 7) >> 3, full = k >> 2;
    int32_t sx = 0, g = 0;
    for (int32_t s0 = 0; s0 < steps; s0 += chunk, buf += MCF_SUB_FC_STATE) {
        const int32_t gend = 2 * (steps - s0 < chunk ? steps : s0 + chunk);
        const int32_t gfull = gend < full ? gend : full;
        if (g + 1 < gfull) {                    /* pairs of groups: 6.5 instructions a group */
            const int32_t pairs = (gfull - g) >> 1;
            sx = mcf_sub_fc_widen_pairs(x + 4 * g, buf, pairs, sx);
            g += 2 * pairs;
            buf += 4 * pairs;
        }
        for (; g < gend; ++g, buf += 2) {       /* an odd group, the last inputs, then zeros */
            uint32_t v = 0;
            if (g < full) {
                v = (uint32_t)mcf_rd32(x + 4 * g);
            } else {
                for (int32_t i = 0; 4 * g + i < k && i < 4; ++i) {
                    v |= (uint32_t)(uint8_t)x[4 * g + i] << (8 * i);
                }
            }
            const uint32_t xe = __sxtb16(v), xo = mcf_sxtb16_ror8(v);
            buf[0] = (int32_t)xe;
            buf[1] = (int32_t)xo;
            sx = __smlad(xe, 0x00010001u, sx);
            sx = __smlad(xo, 0x00010001u, sx);
        }
    }
    return sx;
}

/* The last k mod 8 (1..7) inputs of a row widened as one step, zeros after them; returns sx + their
 * sum. */
static inline int32_t mcf_sub_fc_widen_tail(const int8_t *x, int32_t rest, int32_t *buf, int32_t sx)
{
    uint32_t v[2] = {0, 0};
    for (int32_t i = 0; i < rest; ++i) {
        v[i >> 2] |= (uint32_t)(uint8_t)x[i] << (8 * (i & 3));
    }
    for (int32_t h = 0; h < 2; ++h) {
        const uint32_t xe = __sxtb16(v[h]), xo = mcf_sxtb16_ror8(v[h]);
        buf[2 * h] = (int32_t)xe;
        buf[2 * h + 1] = (int32_t)xo;
        sx = __smlad(xe, 0x00010001u, sx);
        sx = __smlad(xo, 0x00010001u, sx);
    }
    return sx;
}

typedef const uint32_t *(*mcf_sub_fc_loop)(const uint32_t *, const int32_t *, int32_t *);

/* The loop of a layer's last group (dsp_fc_radix.py: last_width) and of the others. */
static inline __attribute__((always_inline)) mcf_sub_fc_loop mcf_sub_fc_last(int32_t out_c, int32_t bits)
{
    const int32_t p = bits == 4 ? 4 : 8, rem = out_c & (p - 1);
    const mcf_sub_fc_loop full = bits == 4 ? mcf_sub_fc_radix4 : mcf_sub_fc_radix2;
    return rem == 0 ? full : rem == 1 ? mcf_sub_fc_radix16 : rem == 2 ? mcf_sub_fc_radix8
         : (p == 8 && rem <= 4) ? mcf_sub_fc_radix4 : full;
}

/* The output routine's parameters (MCF_FC_PARAMS) but o S. */
static inline __attribute__((always_inline)) void mcf_sub_fc_params(int32_t *prm, int8_t *out, const int32_t *bq,
                                                                    const mcf_requant_sub *rq, int32_t out_c)
{
    prm[0] = (int32_t)(intptr_t)out;
    prm[1] = (int32_t)(intptr_t)(out + out_c);
    prm[2] = (int32_t)(intptr_t)bq;
    prm[3] = (int32_t)(intptr_t)(bq + 2 * out_c);
    prm[4] = (int32_t)(1u + 2u * (uint32_t)rq->out_zp);
    prm[5] = rq->act_min;
    prm[6] = rq->act_max;
}

/* A head's row: an 8-channel loop if the layer has more than 6 (int4) / 4 (ternary) outputs, and the
 * rest, 4, 2 or 1 channels a loop (4: 3 or 4 left; the layout pads them), each followed by its
 * outputs (the loop's tail jumps to them). The first loop to run sums the row: the narrower one
 * where there is one (spare registers), so that the 8-channel loop loads its weights by LDRD. st =
 * the scratch: the state words only. */
static inline __attribute__((always_inline)) void mcf_sub_fc_head(const uint32_t *w, const int8_t *x, int8_t *out,
                                                                  const int32_t *bq, const mcf_requant_sub *rq,
                                                                  int32_t k, int32_t out_c, int32_t *st,
                                                                  int32_t bits, int32_t block)
{
    int32_t *const prm = st + MCF_FC_PARAMS;
    mcf_sub_fc_params(prm, out, bq, rq, out_c);
    const int8_t *const xend = x + k;
    const int32_t sh = bits == 4 ? 3 : 0;
    st[MCF_FC_HOUT] = mcf_sub_fc_out_body(block, rq, bits);
    if (out_c <= (bits == 4 ? 6 : 4)) {         /* narrower loops only: 4 channels (3 or 4), then 2 or 1 */
        const int32_t q = out_c >= 3 ? 4 : out_c, r = out_c - q;
        (q == 4 ? mcf_sub_fc_hq_s : q == 2 ? mcf_sub_fc_h8_s : mcf_sub_fc_h16_s)(w, x, xend, sh, st);
        if (r > 0) {
            __asm__ volatile("" ::: "memory");
            w = (const uint32_t *)(intptr_t)st[MCF_FC_HW];
            (r == 2 ? mcf_sub_fc_h8 : mcf_sub_fc_h16)(w, x, xend, sh, st);
        }
        return;
    }
    const int32_t rem = out_c - 8;
    if (rem > 0) {      /* the narrower group first: it sums the row (o S), its outputs are 8 .. */
        const int32_t q = rem >= 3 ? 4 : rem;
        const uint32_t *const wn = w + (bits == 4 ? k : k >> 1) + 1;      /* past the 8 channels' words */
        prm[0] = (int32_t)(intptr_t)(out + 8);
        prm[2] = (int32_t)(intptr_t)(bq + 16);
        prm[3] = (int32_t)(intptr_t)((const int8_t *)(bq + 2 * out_c) + 8);
        (q == 4 ? mcf_sub_fc_hq_s : q == 2 ? mcf_sub_fc_h8_s : mcf_sub_fc_h16_s)(wn, x, xend, sh, st);
        __asm__ volatile("" ::: "memory");
        prm[0] = (int32_t)(intptr_t)out;
        prm[2] = (int32_t)(intptr_t)bq;
        prm[3] = (int32_t)(intptr_t)(bq + 2 * out_c);
    }
    st[MCF_FC_HOUT] = mcf_sub_fc_out_body(block, rq, 2);
    if (rem > 0) {
        (bits == 4 ? mcf_sub_fc_h4x2 : mcf_sub_fc_h2)(w, x, xend, sh, st);
    } else {
        (bits == 4 ? mcf_sub_fc_h4x2_s : mcf_sub_fc_h2_s)(w, x, xend, sh, st);
    }
}

/* A row over several chunks (`chunk` steps each: long rows whose weights do not prove the bounds
 * over the whole row): each group's chunks, their decoded dot products added, then its outputs. */
static __attribute__((noinline, unused)) void mcf_sub_fc_row_chunks(const uint32_t *w, const int8_t *x, int8_t *out,
                                                                    const int32_t *bq, const mcf_requant_sub *rq,
                                                                    int32_t k, int32_t out_c, int32_t *buf,
                                                                    int32_t bits, int32_t block)
{
    const int32_t chunk = block & MCF_SUB_FC_CHUNK;
    const int32_t steps = (k + 7) >> 3, p = bits == 4 ? 4 : 8;
    const int32_t sx = mcf_sub_fc_widen(x, k, buf, chunk);
    int32_t *const st = buf + 4 * chunk;       /* the first chunk's state */
    mcf_sub_fc_params(st + MCF_FC_PARAMS, out, bq, rq, out_c);
    st[MCF_FC_PARAMS + 7] = bits == 4 ? 8 * sx : sx;
    const mcf_sub_fc_outf outf = mcf_sub_fc_out(block, rq, bits);
    const mcf_sub_fc_loop full = bits == 4 ? mcf_sub_fc_radix4 : mcf_sub_fc_radix2, last = mcf_sub_fc_last(out_c, bits);
    const int32_t rem = out_c & (p - 1), c_last = out_c - (rem ? rem : p);
    const int32_t p_last = last == full ? p : rem <= 2 ? rem : 4;
    for (int32_t c = 0; c < out_c; c += p) {
        const mcf_sub_fc_loop f = c < c_last ? full : last;
        const int32_t pw = c < c_last ? p : p_last;
        w = f(w, buf, st);
        int32_t *xp = st + MCF_SUB_FC_STATE;
        for (int32_t s0 = chunk; s0 < steps; s0 += chunk) {
            int32_t *r = xp + 4 * (steps - s0 < chunk ? steps - s0 : chunk);
            w = f(w, xp, r);
            __asm__ volatile("" ::: "memory");      /* the sums were stored by the assembly */
            for (int32_t j = 0; j < pw; ++j) {
                st[j] += r[j];
            }
            xp = r + MCF_SUB_FC_STATE;
        }
        __asm__ volatile("" ::: "memory");
        outf(st);
    }
}

/* The row: groups of P channels (the last one possibly narrower, last_width), each its loop and
 * then its outputs. `bq`: the layer's packed constants, (2 bias', m) per channel, then the int8
 * exponents (dsp_fc_radix.py: packed_constants). Inlined per width (bits a constant). */
static inline __attribute__((always_inline)) void mcf_sub_fc_row(const uint32_t *w, const int8_t *x, int8_t *out,
                                                                 const int32_t *bq, const mcf_requant_sub *rq,
                                                                 int32_t k, int32_t out_c, int32_t *buf,
                                                                 int32_t bits, int32_t block)
{
    const int32_t steps = (k + 7) >> 3;
    if ((block & MCF_SUB_FC_CHUNK) < steps) {
        mcf_sub_fc_row_chunks(w, x, out, bq, rq, k, out_c, buf, bits, block);
        return;
    }
    /* one chunk (every MLPerf row): whole steps widened in assembly, then the tail, the calls */
    int32_t *const st = buf + 4 * steps;
    mcf_sub_fc_params(st + MCF_FC_PARAMS, out, bq, rq, out_c);
    const int32_t pairs = k >> 3;
    int32_t sx = pairs ? mcf_sub_fc_widen_pairs(x, buf, pairs, 0) : 0;
    if (k & 7) {
        sx = mcf_sub_fc_widen_tail(x + 8 * pairs, k & 7, buf + 4 * pairs, sx);
    }
    st[MCF_FC_PARAMS + 7] = bits == 4 ? 8 * sx : sx;
    const mcf_sub_fc_outf outf = mcf_sub_fc_out(block, rq, bits);
    const int32_t p = bits == 4 ? 4 : 8;
    for (int32_t c = p; c < out_c; c += p) {
        w = (bits == 4 ? mcf_sub_fc_radix4 : mcf_sub_fc_radix2)(w, buf, st);
        outf(st);
    }
    mcf_sub_fc_last(out_c, bits)(w, buf, st);
    outf(st);
}

#endif /* __ARM_FEATURE_DSP */
#endif /* MCF_SUBBYTE_DSP_FC_H */
