/*
 * int8 2-D convolution (groups == 1) for cores with the DSP extension (Cortex-M4, M7, M33).
 *
 * im2col to int16 + a register-blocked SMLAD matrix kernel (2 output channels x 2 output pixels).
 * Compile-time preparation (variants/dsp_gemm.py):
 *   the patch is cut into segments of contiguous input bytes: one per kernel row (k_w * in_c bytes)
 *   when dil_w == 1, else one per kernel tap (in_c bytes); each segment is padded to a multiple of
 *   4 (L4), K4 = n_seg * L4. Inside each group of 4, the weights are stored as (w0, w2, w1, w3),
 *   doubled, int16: the order SXTB16 / SXTB16-ROR-8 produce from 4 input bytes, so that widening
 *   is LDR + 2 x SXTB16 per 4 values. Channel pairs are interleaved per group of 4:
 *   [oc pair][K4 / 4][ch0: 4 halfwords][ch1: 4 halfwords], an odd last channel as [K4 / 4][4].
 *   packed_quant: per channel pair {2 * b0', 2 * b1', m0, rcz0, e0, m1, rcz1, e1}, then an odd
 *   last channel as {2 * b', m, rcz, e}, then 2 padding words (mcf_opt.h for m, rcz, e).
 * Scratch: two interleaved int16 columns ([K4 / 4][px0: 4][px1: 4], 4 * K4 bytes), then one
 * segment of int8 (L4 bytes) for segments that touch the padding.
 *
 * Dead (all-zero) channels arrive as constants {0, 0, 2 y, 1} (dsp_gemm.py).
 *
 * Why assembly for the channel-pair loop: the 2 x 2 block needs all 14 usable registers
 * (4 accumulators, 2 pointers, 8 operands), so compiled C spilled the loop state around every
 * block (about 55 instructions of overhead per channel pair). The hand-written loop keeps that
 * state in a 10-word frame at the stack pointer read and written with single LDM / STM, runs the
 * first K step apart (it also copies the biases to the second pixel's accumulators), enters the
 * 16-times unrolled loop of the other steps Duff-style through a computed branch and requantizes
 * with 5 instructions per output: about 29 + 3 per 16 K steps of overhead per channel pair
 * against 10 per K step for 16 MACs.
 * A single pixel (a fully connected layer's row, an odd last pixel) without a clamp runs a
 * 2-channel x 1-pixel loop (pairs_1px: 6 instructions per 8 MACs) rather than two equal lanes.
 * Why both pixels are widened in one pass: their words interleave in the column, and one STM
 * writes a group's 4 words.
 * A 1x1 convolution without padding needs no gather: its "im2col" is only that widening of two
 * input pixels' channel rows, read in place (direct2). The K loop cannot widen int8 inputs itself:
 * no register is left for them, and it would cost 4 more instructions per 16 MACs.
 */
#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"

typedef struct {
    int32_t seg_len, seg_len4, n_seg, k4;
} geom;

static inline geom geometry(const mcf_window *w)
{
    geom gm;
    gm.seg_len = w->dil_w == 1 ? w->k_w * w->in_c : w->in_c;
    gm.seg_len4 = (gm.seg_len + 3) & ~3;
    gm.n_seg = w->dil_w == 1 ? w->k_h : w->k_h * w->k_w;
    gm.k4 = gm.n_seg * gm.seg_len4;
    return gm;
}

/* The state of the channel-pair loop (offsets in the asm). */
typedef struct {
    const int32_t *q;      /*  0: the next channel pair's constants */
    int8_t *out0, *out1;   /*  4,  8: the next output bytes of both pixels */
    int8_t *out0_end;      /* 12: out0 + 2 * pairs */
    const int32_t *col;    /* 16 */
    uint32_t skip;         /* 20: steps of the unrolled loop skipped at its first entry; made the entry address */
    const int32_t *col_end;/* 24 */
    uint32_t lo4, hi4;     /* 28, 32: act_min / act_max in each byte */
    const void *w;         /* 36: weights of the first pair */
} pair_frame;

/* The loop's whole stack: its state, then room for r4-r11 and lr (40). It is the only local of
 * run_pairs, whose frame -fstack-usage counts; the asm itself pushes nothing. */
typedef struct {
    pair_frame f;
    uint32_t saved[9];
    uint32_t sp_adjust;    /* 0 here; makes the size a multiple of 8 (no padding below it) */
} pair_stack;

/* One step: 4 K of two channels x two pixels, 10 instructions of 4 bytes each (the computed
 * entry relies on that size). x: [px0 e, px0 o, px1 e, px1 o] -> r4-r7; w: [ch0 e, o, ch1 e, o]
 * -> r8-r11; accumulators r0 (ch0 px0), r1 (ch0 px1), r2 (ch1 px0), r3 (ch1 px1). */
#define MCF_STEP                                                                    \
    "ldmia.w r12!, {r4, r5, r6, r7}\n\t"                                            \
    "ldmia.w lr!, {r8, r9, r10, r11}\n\t"                                           \
    "smlad r0, r8, r4, r0\n\t"                                                      \
    "smlad r0, r9, r5, r0\n\t"                                                      \
    "smlad r1, r8, r6, r1\n\t"                                                      \
    "smlad r1, r9, r7, r1\n\t"                                                      \
    "smlad r2, r10, r4, r2\n\t"                                                     \
    "smlad r2, r11, r5, r2\n\t"                                                     \
    "smlad r3, r10, r6, r3\n\t"                                                     \
    "smlad r3, r11, r7, r3\n\t"

/* Requantize accumulator `acc` with m r7, rcz r8, e r9 into `dst` (ssat to int8). */
#if MCF_CONV_DSP_LSH
/*
 * mcf_conv2d_s8_dsp_lsh.c compiles this file again with MCF_CONV_DSP_LSH (TFLite's double
 * rounding only): channels whose requantization multiplier is >= 1/2 (shift s >= 0) have the left
 * shift folded into their weights and bias as 2^(s+1) (A = 2^(s+1) x) and e = 0, rcz = out_zp,
 * and requantize as floor((A m + 2^31) / 2^32) + zp = SRDHM(2^s x, m) + zp (RoundingDivideByPOT by
 * 0 is the identity). The e word is e | 0xFFFFFF00 for a right shift e >= 1 (ASR by a register
 * reads its low byte) and 0 for e = 0, so the sign correction -[A < 0] of mcf_dsp_requant becomes
 * ((A >> 31) & e_word) >> 8: one instruction more per output than MCF_RQ, `acc` as the temporary.
 */
#define MCF_RQ(dst, acc)                                                            \
    "smmlar " dst ", " acc ", r7, r8\n\t"                                          \
    "and " acc ", r9, " acc ", asr #31\n\t"                                         \
    "add " dst ", " dst ", " acc ", asr #8\n\t"                                     \
    "asr " dst ", " dst ", r9\n\t"                                                 \
    "ssat " dst ", #8, " dst "\n\t"
#define MCF_CONV_DSP_BLOCK mcf_conv2d_s8_dsp_block_lsh
#define MCF_CONV_DSP_RUN_COLS mcf_conv2d_s8_dsp_run_cols_lsh
#else
#define MCF_RQ(dst, acc)                                                            \
    MCF_DSP_RQ_ASM(dst, acc, "r7", "r8", "r9")                                      \
    "ssat " dst ", #8, " dst "\n\t"
#define MCF_CONV_DSP_BLOCK mcf_conv2d_s8_dsp_block
#define MCF_CONV_DSP_RUN_COLS mcf_conv2d_s8_dsp_run_cols
#endif

/* The first step of a pair, which also starts the accumulators from the biases in r0 and r2
 * (saves the two MOVs that would copy them to the other pixel's accumulators). */
#define MCF_FIRST_STEP                                                              \
    "ldmia.w r12!, {r4, r5, r6, r7}\n\t"                                            \
    "ldmia.w lr!, {r8, r9, r10, r11}\n\t"                                           \
    "smlad r1, r8, r6, r0\n\t"                                                      \
    "smlad r0, r8, r4, r0\n\t"                                                      \
    "smlad r0, r9, r5, r0\n\t"                                                      \
    "smlad r1, r9, r7, r1\n\t"                                                      \
    "smlad r3, r10, r6, r2\n\t"                                                     \
    "smlad r2, r10, r4, r2\n\t"                                                     \
    "smlad r2, r11, r5, r2\n\t"                                                     \
    "smlad r3, r11, r7, r3\n\t"

#define MCF_STEP4 MCF_STEP MCF_STEP MCF_STEP MCF_STEP

/* Frame setup, then per channel pair: the first step, the other steps in a loop unrolled 16
 * times and entered Duff-style at ktop + 40 * skip (skip = 16 when there is no other step: the
 * entry is then the loop test, which falls through), and the start of the epilogue with
 * m, rcz, e of the first channel in r7-r9. */
/* The frame is at the caller's sp (the usual case, see run_pairs), or else copied to 80 bytes of
 * this function's own stack (e.g. an unoptimized build laying out run_pairs differently; stack
 * that -fstack-usage does not see). Then r4-r11 and lr saved in the frame, lr = weights, the entry address ktop (8) + step_bytes *
 * skip, the first pair's biases in r0 and r2. */
#define MCF_FRAME_ENTER(step_bytes)                                                 \
    "cmp r0, sp\n\t"                                                                \
    "beq.w 2f\n\t"                                                                  \
    "sub sp, sp, #80\n\t"                                                           \
    "add r1, sp, #40\n\t"                                                           \
    "stmia r1, {r4-r11, lr}\n\t"                                                    \
    "ldm r0, {r1-r10}\n\t"                                                          \
    "stm sp, {r1-r10}\n\t"                                                          \
    "mov.w r1, #80\n\t"                                                             \
    "str r1, [sp, #76]\n\t"                                                         \
    "b.w 3f\n\t"                                                                    \
    "2:\n\t"                                                                        \
    "add r1, r0, #40\n\t"                                                           \
    "stmia r1, {r4-r11, lr}\n\t"                                                    \
    "3:\n\t"                                                                        \
    "ldr lr, [sp, #36]\n\t"                                                         \
    "ldr r6, [sp, #20]\n\t"                                                         \
    "adr.w r10, 8f\n\t"                                                             \
    "mov.w r11, #" step_bytes "\n\t"                                                \
    "mla r6, r6, r11, r10\n\t"                                                      \
    "orr r6, r6, #1\n\t"                                                            \
    "str r6, [sp, #20]\n\t"

#define MCF_FRAME_SETUP(step_bytes)                                                 \
    MCF_FRAME_ENTER(step_bytes)                                                     \
    "ldr r1, [sp]\n\t"                                                              \
    "ldmia r1!, {r0, r2}\n\t"                                                       \
    "str r1, [sp]\n\t"

#define MCF_PAIR_LOOP_HEAD                                                          \
    MCF_FRAME_SETUP("40")                                                           \
    "1:\n\t"                                                                        \
    "ldr r12, [sp, #16]\n\t"                                                        \
    MCF_FIRST_STEP                                                                  \
    "ldr r4, [sp, #20]\n\t"                                                         \
    "bx r4\n\t"                                                                     \
    "8:\n\t"                                                                        \
    MCF_STEP4 MCF_STEP4 MCF_STEP4 MCF_STEP4                                         \
    "ldr r4, [sp, #24]\n\t"                                                         \
    "cmp r12, r4\n\t"                                                               \
    "bne.w 8b\n\t"                                                                  \
    "ldm sp, {r4, r5, r6, r12}\n\t"                                                 \
    "ldmia r4!, {r7, r8, r9}\n\t"

/* r4-r11 and lr back from the frame, sp back by the frame's last word, return. */
#define MCF_FRAME_RETURN                                                            \
    "ldr r1, [sp, #76]\n\t"                                                         \
    "add r0, sp, #40\n\t"                                                           \
    "ldmia r0, {r4-r11, lr}\n\t"                                                    \
    "add sp, sp, r1\n\t"                                                            \
    "bx lr\n\t"

/* After the last pair: r4-r11 and lr back from the frame, sp back by the frame's last word (0,
 * or 80 when the frame was copied to this function's own stack). */
#define MCF_PAIR_LOOP_TAIL                                                          \
    "ldmia r4!, {r0, r2}\n\t"                                                       \
    "stm sp, {r4, r5, r6}\n\t"                                                      \
    "cmp r5, r12\n\t"                                                               \
    "bne.w 1b\n\t"                                                                  \
    MCF_FRAME_RETURN


/* All channel pairs of two pixels, without an activation clamp (ssat only): 5 instructions per
 * output. */
static void __attribute__((naked, noinline)) pairs_2px(pair_stack *st __attribute__((unused)))
{
    __asm__ volatile(
        MCF_PAIR_LOOP_HEAD
        MCF_RQ("r10", "r0")
        "strb r10, [r5], #1\n\t"
        MCF_RQ("r11", "r1")
        "strb r11, [r6], #1\n\t"
        "ldmia r4!, {r7, r8, r9}\n\t"
        MCF_RQ("r10", "r2")
        "strb r10, [r5], #1\n\t"
        MCF_RQ("r11", "r3")
        "strb r11, [r6], #1\n\t"
        MCF_PAIR_LOOP_TAIL);
}

/* The same with a clamp to [act_min, act_max]: the 4 outputs packed into one word, clamped by
 * SSUB8 + SEL per bound and stored as two halfwords (6 instructions more per channel pair than
 * pairs_2px instead of 24). */
static void __attribute__((naked, noinline)) pairs_2px_clamp(pair_stack *st __attribute__((unused)))
{
    __asm__ volatile(
        MCF_PAIR_LOOP_HEAD
        MCF_RQ("r10", "r0")
        MCF_RQ("r11", "r1")
        "ldmia r4!, {r7, r8, r9}\n\t"
        MCF_RQ("r0", "r2")
        MCF_RQ("r1", "r3")
        "bfi r10, r0, #8, #8\n\t"
        "bfi r11, r1, #8, #8\n\t"
        "pkhbt r10, r10, r11, lsl #16\n\t"
        "ldrd r8, r9, [sp, #28]\n\t"
        "ssub8 r11, r10, r8\n\t"
        "sel r10, r10, r8\n\t"
        "ssub8 r11, r10, r9\n\t"
        "sel r10, r9, r10\n\t"
        "strh r10, [r5], #2\n\t"
        "lsr r10, r10, #16\n\t"
        "strh r10, [r6], #2\n\t"
        MCF_PAIR_LOOP_TAIL);
}

/* One step of one pixel: 4 K of two channels, 6 instructions of 4 bytes (lane 1 of the column is
 * skipped); accumulators r0 (ch0) and r2 (ch1). */
#define MCF_STEP_1PX                                                                \
    "ldrd r4, r5, [r12], #16\n\t"                                                   \
    "ldmia.w lr!, {r8, r9, r10, r11}\n\t"                                           \
    "smlad r0, r8, r4, r0\n\t"                                                      \
    "smlad r0, r9, r5, r0\n\t"                                                      \
    "smlad r2, r10, r4, r2\n\t"                                                     \
    "smlad r2, r11, r5, r2\n\t"

#define MCF_STEP4_1PX MCF_STEP_1PX MCF_STEP_1PX MCF_STEP_1PX MCF_STEP_1PX

/* All K steps of one pixel, the loop entered Duff-style (column at [sp, #16], entry [sp, #20]). */
#define MCF_K_LOOP_1PX                                                              \
    "ldr r12, [sp, #16]\n\t"                                                        \
    "ldr r4, [sp, #20]\n\t"                                                         \
    "bx r4\n\t"                                                                     \
    "8:\n\t"                                                                        \
    MCF_STEP4_1PX MCF_STEP4_1PX MCF_STEP4_1PX MCF_STEP4_1PX                         \
    "ldr r4, [sp, #24]\n\t"                                                         \
    "cmp r12, r4\n\t"                                                               \
    "bne.w 8b\n\t"

/*
 * All channel pairs of one pixel (lane 0), without a clamp: a single last pixel or a fully
 * connected layer's one row. Two lanes would cost 10 instructions per 8 useful MACs instead of 6.
 * All K steps run in the loop (skip = (-steps) & 15).
 */
static void __attribute__((naked, noinline)) pairs_1px(pair_stack *st __attribute__((unused)))
{
    __asm__ volatile(
        MCF_FRAME_SETUP("24")
        "1:\n\t"
        MCF_K_LOOP_1PX
        "ldm sp, {r4, r5, r6, r12}\n\t"
        "ldmia r4!, {r7, r8, r9}\n\t"
        MCF_RQ("r10", "r0")
        "strb r10, [r5], #1\n\t"
        "ldmia r4!, {r7, r8, r9}\n\t"
        MCF_RQ("r10", "r2")
        "strb r10, [r5], #1\n\t"
        MCF_PAIR_LOOP_TAIL);
}

/*
 * The asm addresses its state as [sp, #k] (the K loop has no register left for a base), and so
 * that its stack use shows in -fstack-usage it uses this function's frame instead of its own:
 * the frame's only local is `st`, which optimizing GCC places at the stack pointer (the asm
 * checks this on entry and copies the frame otherwise).
 */
static void __attribute__((noinline)) run_pairs(const mcf_conv2d_s8_args *a, int8_t *out0, int8_t *out1)
{
    pair_stack st;
    const int32_t steps = geometry(&a->win).k4 >> 2;
    const int32_t *col = (const int32_t *)a->scratch;
    const int32_t lo = a->rq.act_min, hi = a->rq.act_max;
    st.f.q = a->packed_quant;
    st.f.out0 = out0;
    st.f.out1 = out1;
    st.f.out0_end = out0 + (a->win.out_c & ~1);
    st.f.col = col;
    st.f.skip = steps == 1 ? 16u : (uint32_t)(1 - steps) & 15u;
    st.f.col_end = col + 4 * steps;
    st.f.lo4 = (uint32_t)(uint8_t)lo * 0x01010101u;
    st.f.hi4 = (uint32_t)(uint8_t)hi * 0x01010101u;
    st.f.w = a->packed_weights;
    st.sp_adjust = 0;
    if (lo > -128 || hi < 127) {
        pairs_2px_clamp(&st);
    } else if (out0 == out1) {
        st.f.skip = (uint32_t)(-steps) & 15u;
        pairs_1px(&st);
    } else {
        pairs_2px(&st);
    }
}

#if !MCF_CONV_DSP_LSH
/*
 * The same loops with the raw accumulators as output, for mcf_subbyte_dsp_rdx.h (the sub-byte
 * radix form: its "channels" are prefix sums of several real channels, decoded afterwards). The
 * weights are rows of channel pairs, each row its two biases then the K4 / 4 groups of 4 words
 * ([c_a, c_b][K4 / 4][ch a: 2 words][ch b: 2 words]); the accumulators go to int32 rows, one per
 * pixel ([pixel][row_words], channel pair v at words 2 v, 2 v + 1).
 *
 * Pixel pairs (acc_t): the GEMM transposed. The pair loop above runs over channel pairs with one
 * column held; here it runs over the pixel pairs' columns (laid out as the int8 kernel's channel
 * pairs are: [K4 / 4][px0: 2 words][px1: 2 words]) with one channel pair's row held, and then the
 * next row: one call for the whole block and chunk instead of one per block and pixel pair (the
 * same 10-instruction step, the same SMLADs). Per pixel pair: the row's biases (LDM), the first
 * step from them, the unrolled loop, two STRDs and the pointer steps; per row: the pointers to
 * the next row. Frame words: 0 span (pairs x stride bytes), 4 out0, 8 out1, 12 out0 + span,
 * 16 row, 20 entry, 24 row end, 28 stride (two pixel rows), 32 rows left, 36 the columns.
 */
typedef struct {
    uintptr_t f[10];       /* the frame words above (pair_frame's offsets) */
    uint32_t saved[9];
    uint32_t sp_adjust;
} acc_stack;

/* The first step with the row's biases c_a (r0), c_b (r2): r0 = (px0, a), r1 = (px0, b),
 * r2 = (px1, a), r3 = (px1, b). */
#define MCF_FIRST_STEP_T                                                            \
    "ldmia.w r12!, {r4, r5, r6, r7}\n\t"                                            \
    "ldmia.w lr!, {r8, r9, r10, r11}\n\t"                                           \
    "smlad r1, r8, r6, r2\n\t"                                                      \
    "smlad r3, r10, r6, r2\n\t"                                                     \
    "smlad r2, r10, r4, r0\n\t"                                                     \
    "smlad r0, r8, r4, r0\n\t"                                                      \
    "smlad r0, r9, r5, r0\n\t"                                                      \
    "smlad r1, r9, r7, r1\n\t"                                                      \
    "smlad r2, r11, r5, r2\n\t"                                                     \
    "smlad r3, r11, r7, r3\n\t"

static void __attribute__((naked, noinline)) pairs_acc_t(acc_stack *st __attribute__((unused)))
{
    __asm__ volatile(
        MCF_FRAME_ENTER("40")
        "1:\n\t"
        "ldr r12, [sp, #16]\n\t"
        "ldmia r12!, {r0, r2}\n\t"
        MCF_FIRST_STEP_T
        "ldr r4, [sp, #20]\n\t"
        "bx r4\n\t"
        "8:\n\t"
        MCF_STEP4 MCF_STEP4 MCF_STEP4 MCF_STEP4
        "ldr r4, [sp, #24]\n\t"
        "cmp r12, r4\n\t"
        "bne.w 8b\n\t"
        "ldm sp, {r4, r5, r6, r12}\n\t"
        "ldr r7, [sp, #28]\n\t"
        "strd r0, r1, [r5]\n\t"
        "strd r2, r3, [r6]\n\t"
        "add r5, r5, r7\n\t"
        "add r6, r6, r7\n\t"
        "stm sp, {r4, r5, r6}\n\t"
        "cmp r5, r12\n\t"
        "bne.w 1b\n\t"
        "sub r5, r5, r4\n\t"
        "add r5, r5, #8\n\t"
        "sub r6, r6, r4\n\t"
        "add r6, r6, #8\n\t"
        "add r12, r12, #8\n\t"
        "stm sp, {r4, r5, r6, r12}\n\t"
        "ldr r8, [sp, #16]\n\t"
        "ldr r9, [sp, #24]\n\t"
        "sub r10, r9, r8\n\t"
        "add r10, r9, r10\n\t"
        "str r9, [sp, #16]\n\t"
        "str r10, [sp, #24]\n\t"
        "ldr lr, [sp, #36]\n\t"
        "ldr r8, [sp, #32]\n\t"
        "subs r8, r8, #1\n\t"
        "str r8, [sp, #32]\n\t"
        "bne.w 1b\n\t"
        MCF_FRAME_RETURN);
}

/* A single pixel (lane 0 of a column) over all rows: per row its biases (LDM from the weights),
 * the 1-pixel loop, one STRD. Frame words: 4 out, 12 out end, 16 column, 20 entry, 24 column end,
 * 36 the rows. */
static void __attribute__((naked, noinline)) pairs_1px_acc(acc_stack *st __attribute__((unused)))
{
    __asm__ volatile(
        MCF_FRAME_ENTER("24")
        "1:\n\t"
        "ldmia lr!, {r0, r2}\n\t"
        MCF_K_LOOP_1PX
        "ldr r5, [sp, #4]\n\t"
        "ldr r12, [sp, #12]\n\t"
        "strd r0, r2, [r5], #8\n\t"
        "str r5, [sp, #4]\n\t"
        "cmp r5, r12\n\t"
        "bne.w 1b\n\t"
        MCF_FRAME_RETURN);
}

/* The accumulators of `rows` channel-pair rows (wrows, as above) over `nfull` pixel pairs' columns
 * (cols, k4 = 4 kgroups words each) and, if `single`, the lane 0 of the next column: pixel i's
 * accumulators at acc + i * row_words. */
void mcf_conv2d_s8_dsp_run_acc(const int32_t *cols, int32_t nfull, int32_t single, const int32_t *wrows, int32_t rows,
                               int32_t kgroups, int32_t *acc, int32_t row_words)
{
    acc_stack st;
    const uintptr_t rowb = 4 * (uintptr_t)row_words, wrow = 8 + 16 * (uintptr_t)kgroups;
    uintptr_t *f = st.f;
    st.sp_adjust = 0;
    if (nfull > 0) {
        f[0] = 2 * rowb * (uintptr_t)nfull;
        f[1] = (uintptr_t)acc;
        f[2] = (uintptr_t)acc + rowb;
        f[3] = f[1] + f[0];
        f[4] = (uintptr_t)wrows;
        f[5] = kgroups == 1 ? 16u : (uint32_t)(1 - kgroups) & 15u;
        f[6] = (uintptr_t)wrows + wrow;
        f[7] = 2 * rowb;
        f[8] = (uintptr_t)rows;
        f[9] = (uintptr_t)cols;
        pairs_acc_t(&st);
    }
    if (single) {
        f[1] = (uintptr_t)(acc + (size_t)2 * nfull * row_words);
        f[3] = f[1] + 8 * (uintptr_t)rows;
        f[4] = (uintptr_t)(cols + (size_t)4 * nfull * kgroups);
        f[5] = (uint32_t)(-kgroups) & 15u;
        f[6] = f[4] + 16 * (uintptr_t)kgroups;
        f[9] = (uintptr_t)wrows;
        pairs_1px_acc(&st);
    }
}
#endif

/* Bytes 0..n-1 of src (n < 4) in a word, the rest 0 (they meet zero weights). */
static inline uint32_t tail_word(const int8_t *src, int32_t n)
{
    uint32_t v = 0;
    for (int32_t i = 0; i < n; ++i) {
        v |= (uint32_t)(uint8_t)src[i] << (8 * i);
    }
    return v;
}

/* A segment of one pixel into its lane: 4 int8 -> 2 words of int16 in SXTB16 order per group
 * (LDR, SXTB16 x 2, STRD: the compiled C loop took 15 instructions per group, this one 6). */
static void __attribute__((noinline)) widen_seg(int32_t *dst, const int8_t *src, int32_t len)
{
    const int8_t *end = src + (len & ~3);
    if (src != end) {
        __asm__ volatile(
            "1:\n\t"
            "ldr r4, [%[s]], #4\n\t"
            "sxtb16 r5, r4, ror #8\n\t"
            "sxtb16 r4, r4\n\t"
            "strd r4, r5, [%[d]], #16\n\t"
            "cmp %[s], %[end]\n\t"
            "bne 1b\n\t"
            : [s] "+r"(src), [d] "+r"(dst)
            : [end] "r"(end)
            : "r4", "r5", "cc", "memory");
    }
    if (len & 3) {
        const uint32_t v = tail_word(src, len & 3);
        dst[0] = (int32_t)__sxtb16(v);
        dst[1] = (int32_t)mcf_sxtb16_ror8(v);
    }
}

/* The same segment of both pixels into both lanes: per group LDR x 2, SXTB16 x 4 and one STM of
 * the group's 4 words (compiled C stored them one by one and kept more pointers: 15 instructions
 * per group instead of 9). */
static void __attribute__((noinline)) widen_seg2(int32_t *dst, const int8_t *s0, const int8_t *s1, int32_t len)
{
    const int8_t *end = s0 + (len & ~3);
    if (s0 != end) {
        __asm__ volatile(
            "1:\n\t"
            "ldr r4, [%[s0]], #4\n\t"
            "ldr r6, [%[s1]], #4\n\t"
            "sxtb16 r5, r4, ror #8\n\t"
            "sxtb16 r4, r4\n\t"
            "sxtb16 r8, r6, ror #8\n\t"
            "sxtb16 r6, r6\n\t"
            "stmia %[d]!, {r4, r5, r6, r8}\n\t"
            "cmp %[s0], %[end]\n\t"
            "bne 1b\n\t"
            : [s0] "+r"(s0), [s1] "+r"(s1), [d] "+r"(dst)
            : [end] "r"(end)
            : "r4", "r5", "r6", "r8", "cc", "memory");     /* not r7: the frame pointer at -O0 */
    }
    if (len & 3) {
        const uint32_t v0 = tail_word(s0, len & 3), v1 = tail_word(s1, len & 3);
        dst[0] = (int32_t)__sxtb16(v0);
        dst[1] = (int32_t)mcf_sxtb16_ror8(v0);
        dst[2] = (int32_t)__sxtb16(v1);
        dst[3] = (int32_t)mcf_sxtb16_ror8(v1);
    }
}

/* Segment taps that touch the padding, to segbuf: input bytes where inside, zero point elsewhere. */
static void pad_segment(const mcf_window *w, const int8_t *in_n, int8_t zp, int32_t iy, int32_t ix0, int32_t taps,
                        int8_t *segbuf)
{
    const int32_t c = w->in_c;
    const int row_in = iy >= 0 && iy < w->in_h;
    for (int32_t t = 0; t < taps; ++t) {
        const int32_t ix = ix0 + t;
        const int8_t *src = in_n + ((size_t)iy * w->in_w + ix) * c;
        const int tap_in = row_in && ix >= 0 && ix < w->in_w;
        for (int32_t i = 0; i < c; ++i) {     /* in_c % 4 != 0: a few bytes, no library call */
            segbuf[t * c + i] = tap_in ? src[i] : zp;
        }
    }
}

/* The same when in_c % 4 == 0 (each tap starts a group of 4): widened tap by tap straight into
 * the lane, padding taps filled with the widened zero point zpw, without the copy to segbuf. */
static void pad_lane(const mcf_window *w, const int8_t *in_n, int32_t zpw, int32_t iy, int32_t ix0, int32_t taps,
                     int32_t *dst)
{
    const int32_t c = w->in_c;
    const int row_in = iy >= 0 && iy < w->in_h;
    for (int32_t t = 0; t < taps; ++t, dst += c) {
        const int32_t ix = ix0 + t;
        if (row_in && ix >= 0 && ix < w->in_w) {
            widen_seg(dst, in_n + ((size_t)iy * w->in_w + ix) * c, c);
        } else {
            for (int32_t g = 0; g < c; g += 4) {
                dst[g] = zpw;
                dst[g + 1] = zpw;
            }
        }
    }
}

/* Whether the segment of `taps` input pixels from (iy, ix) lies wholly inside the input. */
static inline int inside(const mcf_window *w, int32_t iy, int32_t ix, int32_t taps)
{
    return (uint32_t)iy < (uint32_t)w->in_h && ix >= 0 && ix + taps <= w->in_w;
}

/* One lane's segment from input pixel (iy, ix) on, through segbuf where it touches the padding. */
static void __attribute__((noinline)) lane_segment(const mcf_conv2d_s8_args *a, const int8_t *in_n, int32_t iy,
                                                   int32_t ix, int32_t *dst)
{
    const mcf_window *w = &a->win;
    const geom g = geometry(w), *gm = &g;
    const int32_t taps = w->dil_w == 1 ? w->k_w : 1;      /* input pixels per segment */
    const int8_t zp = (int8_t)a->rq.in_zp;
    if (inside(w, iy, ix, taps)) {
        widen_seg(dst, in_n + ((size_t)iy * w->in_w + ix) * w->in_c, gm->seg_len);
    } else if ((w->in_c & 3) == 0) {
        pad_lane(w, in_n, (int32_t)((uint32_t)(uint16_t)zp * 0x10001u), iy, ix, taps, dst);
    } else {
        int8_t *segbuf = (int8_t *)((int32_t *)a->scratch + gm->k4);
        pad_segment(w, in_n, zp, iy, ix, taps, segbuf);
        widen_seg(dst, segbuf, gm->seg_len);
    }
}

/*
 * The columns of output pixels p0 and p1 into lanes 0 and 1 of the scratch. Segments that lie
 * wholly inside the input for both pixels are widened together, in place; the others one lane at
 * a time.
 */
static void __attribute__((noinline)) im2col2(const mcf_conv2d_s8_args *a, const int8_t *in_n, int32_t p0,
                                              int32_t p1)
{
    const mcf_window *w = &a->win;
    const geom gm = geometry(w);
    int32_t *col = (int32_t *)a->scratch;
    const int32_t taps = w->dil_w == 1 ? w->k_w : 1;
    const int32_t oy0 = p0 / w->out_w, oy1 = p1 / w->out_w;
    const int32_t iy0 = oy0 * w->stride_h - w->pad_top, iy1 = oy1 * w->stride_h - w->pad_top;
    const int32_t ix0 = (p0 - oy0 * w->out_w) * w->stride_w - w->pad_left;
    const int32_t ix1 = (p1 - oy1 * w->out_w) * w->stride_w - w->pad_left;
    const int32_t kx_n = w->dil_w == 1 ? 1 : w->k_w;     /* segments per kernel row */
    for (int32_t ky = 0; ky < w->k_h; ++ky) {
        const int32_t dy = ky * w->dil_h;
        for (int32_t kx = 0; kx < kx_n; ++kx, col += gm.seg_len4) {
            const int32_t dx = kx * w->dil_w;
            if (inside(w, iy0 + dy, ix0 + dx, taps) && inside(w, iy1 + dy, ix1 + dx, taps)) {
                const int32_t row = w->in_w * w->in_c;
                widen_seg2(col, in_n + (iy0 + dy) * row + (ix0 + dx) * w->in_c,
                           in_n + (iy1 + dy) * row + (ix1 + dx) * w->in_c, gm.seg_len);
            } else {
                lane_segment(a, in_n, iy0 + dy, ix0 + dx, col);
                lane_segment(a, in_n, iy1 + dy, ix1 + dx, col + 2);
            }
        }
    }
}

/* 1x1 without padding: each column is one input pixel's channels, widened in place. */
static void __attribute__((noinline)) direct2(const mcf_conv2d_s8_args *a, const int8_t *in_n, int32_t p0,
                                              int32_t p1)
{
    const mcf_window *w = &a->win;
    const int32_t oy0 = p0 / w->out_w, oy1 = p1 / w->out_w;
    const int32_t px0 = oy0 * w->stride_h * w->in_w + (p0 - oy0 * w->out_w) * w->stride_w;
    const int32_t px1 = oy1 * w->stride_h * w->in_w + (p1 - oy1 * w->out_w) * w->stride_w;
    widen_seg2((int32_t *)a->scratch, in_n + px0 * w->in_c, in_n + px1 * w->in_c, w->in_c);
}

static inline int8_t store1(int32_t acc2, const int32_t *q, int32_t lo, int32_t hi)
{
#if MCF_CONV_DSP_LSH
    const int32_t y = __ssat((mcf_smmlar(acc2, q[1], q[2]) + ((acc2 >> 31) & (q[3] >> 8))) >> (q[3] & 0xFF), 8);
#else
    const int32_t y = __ssat(mcf_dsp_requant(acc2, q[1], q[2], q[3]), 8);
#endif
    return (int8_t)MCF_CLAMP(y, lo, hi);
}

/* The odd last output channel of both pixels ([K4 / 4][4] weights, {2 * b', m, rcz, e}). */
static void __attribute__((noinline)) odd_channel(const mcf_conv2d_s8_args *a, int8_t *out0, int8_t *out1)
{
    const int32_t steps = geometry(&a->win).k4 >> 2;
    const int32_t *col = (const int32_t *)a->scratch;
    const int32_t pairs = a->win.out_c >> 1;
    const int32_t *q = a->packed_quant + 8 * pairs;
    const int32_t *wp = (const int32_t *)((const int16_t *)a->packed_weights + (size_t)pairs * 8 * steps);
    int32_t a0 = q[0], a1 = q[0];
    for (int32_t s = 0; s < steps; ++s, col += 4, wp += 2) {
        a0 = __smlad(wp[0], col[0], a0);
        a0 = __smlad(wp[1], col[1], a0);
        a1 = __smlad(wp[0], col[2], a1);
        a1 = __smlad(wp[1], col[3], a1);
    }
    out0[2 * pairs] = store1(a0, q, a->rq.act_min, a->rq.act_max);
    out1[2 * pairs] = store1(a1, q, a->rq.act_min, a->rq.act_max);
}

/* Whether the layer's "im2col" is direct2's (1x1 without padding). */
static inline int is_direct(const mcf_window *w)
{
    return w->k_h == 1 && w->k_w == 1 && w->pad_top == 0 && w->pad_left == 0 &&
           (w->out_h - 1) * w->stride_h < w->in_h && (w->out_w - 1) * w->stride_w < w->in_w;
}

/*
 * Columns kept (mcf_subbyte_dsp.h: a sub-byte layer's channel blocks cycle over columns built
 * once, instead of each block building them again): mcf_conv2d_s8_dsp_cols writes the columns of
 * pixel pairs pair0 .. pair0 + n - 1 of one image (pair i = output pixels 2i and 2i + 1, a last
 * single pixel twice) at cols + i * K4 words, exactly as MCF_CONV_DSP_BLOCK's scratch holds them
 * (im2col2 / direct2); a padding segment is staged right after the column being built, so cols
 * needs L4 bytes after the last one. MCF_CONV_DSP_RUN_COLS runs a's channels over them, writing
 * out_n[p * out_stride + c] (out_n: the image's first output pixel).
 */
#if !MCF_CONV_DSP_LSH
void mcf_conv2d_s8_dsp_cols(const mcf_conv2d_s8_args *a, const int8_t *in_n, int32_t pair0, int32_t n, int32_t *cols)
{
    mcf_conv2d_s8_args b = *a;
    const int32_t k4 = geometry(&a->win).k4;
    const int32_t npix = a->win.out_h * a->win.out_w;
    const int direct = is_direct(&a->win);
    for (int32_t i = 0; i < n; ++i, cols += k4) {
        const int32_t p = 2 * (pair0 + i), p1 = p + 1 < npix ? p + 1 : p;
        b.scratch = cols;
        if (direct) {
            direct2(&b, in_n, p, p1);
        } else {
            im2col2(&b, in_n, p, p1);
        }
    }
}
#endif

void MCF_CONV_DSP_RUN_COLS(const mcf_conv2d_s8_args *a, const int32_t *cols, int32_t pair0, int32_t n, int8_t *out_n,
                           int32_t out_stride)
{
    mcf_conv2d_s8_args b = *a;
    const int32_t k4 = geometry(&a->win).k4;
    const int32_t npix = a->win.out_h * a->win.out_w;
    for (int32_t i = 0; i < n; ++i, cols += k4) {
        const int32_t p = 2 * (pair0 + i), p1 = p + 1 < npix ? p + 1 : p;
        int8_t *out0 = out_n + (size_t)p * out_stride, *out1 = out_n + (size_t)p1 * out_stride;
        b.scratch = (void *)(uintptr_t)cols;
        if (b.win.out_c >= 2) {
            run_pairs(&b, out0, out1);
        }
        if (b.win.out_c & 1) {
            odd_channel(&b, out0, out1);
        }
    }
}

/* The layer's a->win.out_c output channels written at out[p * out_stride + c] (the whole layer:
 * out_stride = out_c; mcf_subbyte_dsp.h runs it on blocks of channels of a wider output). */
void MCF_CONV_DSP_BLOCK(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out, int32_t out_stride)
{
    const mcf_window *w = &a->win;
    const int32_t npix = w->out_h * w->out_w;
    const int direct = is_direct(w);
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        int8_t *out0 = out + (size_t)n * npix * out_stride;
        for (int32_t p = 0; p < npix; p += 2) {
            /* a last single pixel fills both lanes and is written twice */
            const int32_t p1 = p + 1 < npix ? p + 1 : p;
            int8_t *out1 = out0 + (p1 - p) * out_stride;
            if (direct) {
                direct2(a, in_n, p, p1);
            } else {
                im2col2(a, in_n, p, p1);
            }
            if (w->out_c >= 2) {
                run_pairs(a, out0, out1);
            }
            if (w->out_c & 1) {
                odd_channel(a, out0, out1);
            }
            out0 = out1 + out_stride;
        }
    }
}

#if MCF_CONV_DSP_LSH
/* int8 convolutions with left-shift channels (variants/dsp_conv_lsh.py, double rounding) */
void mcf_conv2d_s8_dsp_lsh(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
#else
void mcf_conv2d_s8_dsp(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
#endif
{
    MCF_CONV_DSP_BLOCK(a, in, out, a->win.out_c);
}
