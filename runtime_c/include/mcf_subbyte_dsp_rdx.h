/*
 * mcf_subbyte_dsp_rdx.h - convolution (groups 1) with int4 / ternary weights on the DSP extension
 * (Cortex-M4 / M7 / M33) for layers with few output pixels and more weights than one block: the
 * radix form (mcf_conv2d_s8_w4_dsp_rdx.c, ..._w2_dsp_rdx.c; chosen per layer by
 * codegen/c/variants/dsp_subbyte_rdx.py where its cost model says it pays).
 *
 * mcf_subbyte_dsp.h unpacks a block of weights into the int8 DSP kernel's int16 pairs at 1.0
 * instruction a weight (AND + SXTB16 + SXTB16 ROR 8 per four weights), once per call; the int8
 * kernel then spends about 0.6 instructions a MAC on them, so with P output pixels the unpacking
 * is 1 / (0.6 P) of the work: +16-19 % at 9 pixels. Here the block holds words that SMLAD consumes
 * as they are, as the single-row FC's radix layout does (mcf_subbyte_dsp_fc.h):
 *
 * Flash: per group of G real channels (G = 4 int4, 8 ternary; out_c zero padded to a multiple of
 * G) and group of 4 K of the int8 kernel's segmented patch (as mcf_conv2d_s8_dsp.c), two words
 * (h(k0) | h(k2) << 16, h(k1) | h(k3) << 16): the int8 kernel's SXTB16 order. One halfword h(k)
 * holds input k's weights of the G channels, field j at bits b j (b = 4 / 2, R = 2^b): the low
 * fields offset binary n = w + o (o = 8 / 1), the top one two's complement:
 *     h = sum_{j < G-1} (w_j + o) R^j + R^(G-1) w_{G-1}        (a signed int16)
 * Block: G "virtual channels" per group, virtual channel j (j < G - 1) the prefix h mod R^(j+1)
 * (fields 0..j: h with the fields above j cleared), virtual channel G - 1 the raw word. In the
 * int8 kernel's layout (pairs of virtual channels, per group of 4 K their (e, o) words) the int8
 * GEMM loop runs them unchanged (mcf_conv2d_s8_dsp_run_acc: its accumulators stored as int32
 * instead of requantized). Unpacking a flash word: the raw word is stored as it is, each other
 * virtual channel's word is the previous one with one more field cleared (BIC with an immediate):
 * int4 3 BICs per 8 weights, ternary 7 per 16, + the loads and stores (mcf_rdx_unpack4 / 2 in
 * assembly, two K groups a pass: 17 instructions per 32 int4 weights, 35 per 64 ternary).
 *
 * Decode (per pixel, after the GEMM): with a_j the accumulator of virtual channel j, S the sum of
 * the pixel's column (raw int8 inputs) and b'_j the folded bias (bias - in_zp sum w) of real
 * channel j, the virtual biases are the prefix sums c_j = sum_{i <= j} R^i b'_i, so
 *     a_j - a_(j-1) = R^j (W_j + b'_j + o S)   (j < G - 1; a_(-1) = 0),
 *     a_(G-1) - a_(G-2) = R^(G-1) (W_(G-1) + b'_(G-1)),
 * W_j = sum_k w_j,k x_k. The int8 kernel's requantization wants A2 = 2 (W + b'): field 0 gives it
 * as 2 a_0 - 2 o S, field j >= 1 gives d_j = R^j (W + b') = (R^j / 2) A2, requantized with the
 * multiplier m / (R^j / 2) (exact: the compiler takes this form only where every multiplier is a
 * multiple of R^(G-1) / 2, as the 16-bit-mantissa multipliers of sub-byte layers are), so that
 * d_j m' = A2 m and mcf_dsp_requant gives the same byte in either rounding mode. Exact while
 * |R^j (W_j + b'_j)| < 2^31 for every channel (variants/dsp_subbyte_rdx.py: rdx_ok); the prefix
 * sums themselves may wrap (SMLAD wraps mod 2^32, and so do the differences).
 *
 * The block's constants: the GEMM's packed_quant with the virtual biases (5 words per pair of
 * virtual channels, mcf_conv2d_s8_dsp_run_acc), and {m', rcz, e} per real channel for the decode.
 */
#ifndef MCF_SUBBYTE_DSP_RDX_H
#define MCF_SUBBYTE_DSP_RDX_H

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"
#include "mcf_subbyte.h"
#include "mcf_variants.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

/*
 * The assembly routines below push nothing: as the int8 kernel's pair loop (mcf_conv2d_s8_dsp.c),
 * each runs on a frame that is the only local of a noinline C caller, which optimizing GCC places
 * at the stack pointer, so -fstack-usage counts it: its arguments first, then r4-r11 and lr saved,
 * then an adjustment word (0). If the frame is elsewhere (an unoptimized build), it is copied to
 * `bytes` of the routine's own stack first and the adjustment says so.
 */
#define MCF_RDX_ENTER(bytes, save, args)                                            \
    "cmp r0, sp\n\t"                                                                \
    "beq.w 2f\n\t"                                                                  \
    "sub sp, sp, #" bytes "\n\t"                                                    \
    "add r1, sp, #" save "\n\t"                                                     \
    "stmia r1, {r4-r11, lr}\n\t"                                                    \
    "ldm r0, {" args "}\n\t"                                                        \
    "stm sp, {" args "}\n\t"                                                        \
    "mov.w r1, #" bytes "\n\t"                                                      \
    "str r1, [sp, #" save " + 36]\n\t"                                              \
    "b.w 3f\n\t"                                                                    \
    "2:\n\t"                                                                        \
    "add r1, r0, #" save "\n\t"                                                     \
    "stmia r1, {r4-r11, lr}\n\t"                                                    \
    "3:\n\t"

#define MCF_RDX_RETURN(save)                                                        \
    "ldr r1, [sp, #" save " + 36]\n\t"                                              \
    "add r0, sp, #" save "\n\t"                                                     \
    "ldmia r0, {r4-r11, lr}\n\t"                                                    \
    "add sp, sp, r1\n\t"                                                            \
    "bx lr\n\t"

/* The frame of mcf_rdx_unpack4 / 2: the arguments, then the save area. */
typedef struct {
    const uint32_t *src;
    int32_t *dst;
    int32_t ngroups;         /*  8: channel groups (left, in mcf_rdx_unpack2) */
    int32_t kgroups;         /* 12 */
    uint32_t saved[9];       /* 16 */
    uint32_t sp_adjust;      /* 52 */
} mcf_rdx_unpack_frame;

/*
 * int4: `ngroups` groups of 4 channels, `kgroups` K groups each, from their flash words (src) into
 * the block (dst): per group two rows of kgroups * 4 words, row 1 the virtual channels (2, 3) =
 * (h with field 3 cleared, h), row 0 (0, 1) = (fields 0, fields 0-1). Two K groups per pass: LDM of
 * 4 words, 12 BIC, 2 STM of 8 words, SUBS + BNE (17 instructions per 32 weights).
 */
static void __attribute__((naked, noinline)) mcf_rdx_unpack4(mcf_rdx_unpack_frame *f __attribute__((unused)))
{
    __asm__ volatile(
        MCF_RDX_ENTER("56", "16", "r1-r4")
        "ldm sp, {r0, r1, r2, r3}\n\t"
        "mov lr, r3\n\t"
        "mov r7, r2\n\t"
        "add r1, r1, #8\n\t"
        "add r2, r1, lr, lsl #4\n\t"
        "add r2, r2, #8\n\t"
        "1:\n\t"
        "lsrs r12, lr, #1\n\t"
        "bcc 2f\n\t"
        "ldmia r0!, {r5, r6}\n\t"
        "bic r3, r5, #0xF000F000\n\t"
        "bic r4, r6, #0xF000F000\n\t"
        "stmia r2!, {r3-r6}\n\t"
        "bic r5, r3, #0x0F000F00\n\t"
        "bic r6, r4, #0x0F000F00\n\t"
        "bic r3, r5, #0x00F000F0\n\t"
        "bic r4, r6, #0x00F000F0\n\t"
        "stmia r1!, {r3-r6}\n\t"
        "2:\n\t"
        "cmp r12, #0\n\t"
        "beq 4f\n\t"
        "3:\n\t"
        "ldmia r0!, {r5, r6, r10, r11}\n\t"
        "bic r3, r5, #0xF000F000\n\t"
        "bic r4, r6, #0xF000F000\n\t"
        "bic r8, r10, #0xF000F000\n\t"
        "bic r9, r11, #0xF000F000\n\t"
        "stmia r2!, {r3-r6, r8-r11}\n\t"
        "bic r5, r3, #0x0F000F00\n\t"
        "bic r6, r4, #0x0F000F00\n\t"
        "bic r10, r8, #0x0F000F00\n\t"
        "bic r11, r9, #0x0F000F00\n\t"
        "bic r3, r5, #0x00F000F0\n\t"
        "bic r4, r6, #0x00F000F0\n\t"
        "bic r8, r10, #0x00F000F0\n\t"
        "bic r9, r11, #0x00F000F0\n\t"
        "stmia r1!, {r3-r6, r8-r11}\n\t"
        "subs r12, r12, #1\n\t"
        "bne 3b\n\t"
        "4:\n\t"
        "add r1, r2, #8\n\t"
        "add r2, r1, lr, lsl #4\n\t"
        "add r2, r2, #8\n\t"
        "subs r7, r7, #1\n\t"
        "bne 1b\n\t"
        MCF_RDX_RETURN("16"));
}

/*
 * ternary: groups of 8 channels, four rows each (virtual channels (6, 7), (4, 5), (2, 3), (0, 1)).
 * Two K groups per pass: LDM of 4 words (the raw words of both), 28 BIC, 4 STM of 8 words, SUBS +
 * BNE (35 instructions per 64 weights); an odd count of K groups starts with one group (LDM of 2,
 * 14 BIC, 4 STM of 4). Registers: r0 source, r1-r4 the rows, r12 the count, r5-r11 and lr the
 * words; the K groups and the channel groups left in the frame.
 */
#define MCF_RDX2_ROWS                                                               \
    "ldr r12, [sp, #12]\n\t"                                                             \
    "lsl r12, r12, #4\n\t"                                                          \
    "add r12, r12, #8\n\t"                                                          \
    "add r2, r1, r12\n\t"                                                           \
    "add r3, r2, r12\n\t"                                                           \
    "add r4, r3, r12\n\t"

static void __attribute__((naked, noinline)) mcf_rdx_unpack2(mcf_rdx_unpack_frame *f __attribute__((unused)))
{
    __asm__ volatile(
        MCF_RDX_ENTER("56", "16", "r1-r4")
        "ldm sp, {r0, r1}\n\t"
        "add r1, r1, #8\n\t"
        "1:\n\t"
        MCF_RDX2_ROWS
        "ldr r12, [sp, #12]\n\t"
        "lsrs r12, r12, #1\n\t"
        "bcc 2f\n\t"
        "ldmia r0!, {r11, lr}\n\t"
        "bic r9, r11, #0xC000C000\n\t"
        "bic r10, lr, #0xC000C000\n\t"
        "stmia r4!, {r9, r10, r11, lr}\n\t"
        "bic r11, r9, #0x30003000\n\t"
        "bic lr, r10, #0x30003000\n\t"
        "bic r9, r11, #0x0C000C00\n\t"
        "bic r10, lr, #0x0C000C00\n\t"
        "stmia r3!, {r9, r10, r11, lr}\n\t"
        "bic r11, r9, #0x03000300\n\t"
        "bic lr, r10, #0x03000300\n\t"
        "bic r9, r11, #0x00C000C0\n\t"
        "bic r10, lr, #0x00C000C0\n\t"
        "stmia r2!, {r9, r10, r11, lr}\n\t"
        "bic r11, r9, #0x00300030\n\t"
        "bic lr, r10, #0x00300030\n\t"
        "bic r9, r11, #0x000C000C\n\t"
        "bic r10, lr, #0x000C000C\n\t"
        "stmia r1!, {r9, r10, r11, lr}\n\t"
        "2:\n\t"
        "cmp r12, #0\n\t"
        "beq 4f\n\t"
        "3:\n\t"
        "ldmia r0!, {r7, r8, r11, lr}\n\t"
        "bic r5, r7, #0xC000C000\n\t"
        "bic r6, r8, #0xC000C000\n\t"
        "bic r9, r11, #0xC000C000\n\t"
        "bic r10, lr, #0xC000C000\n\t"
        "stmia r4!, {r5-r11, lr}\n\t"
        "bic r7, r5, #0x30003000\n\t"
        "bic r8, r6, #0x30003000\n\t"
        "bic r11, r9, #0x30003000\n\t"
        "bic lr, r10, #0x30003000\n\t"
        "bic r5, r7, #0x0C000C00\n\t"
        "bic r6, r8, #0x0C000C00\n\t"
        "bic r9, r11, #0x0C000C00\n\t"
        "bic r10, lr, #0x0C000C00\n\t"
        "stmia r3!, {r5-r11, lr}\n\t"
        "bic r7, r5, #0x03000300\n\t"
        "bic r8, r6, #0x03000300\n\t"
        "bic r11, r9, #0x03000300\n\t"
        "bic lr, r10, #0x03000300\n\t"
        "bic r5, r7, #0x00C000C0\n\t"
        "bic r6, r8, #0x00C000C0\n\t"
        "bic r9, r11, #0x00C000C0\n\t"
        "bic r10, lr, #0x00C000C0\n\t"
        "stmia r2!, {r5-r11, lr}\n\t"
        "bic r7, r5, #0x00300030\n\t"
        "bic r8, r6, #0x00300030\n\t"
        "bic r11, r9, #0x00300030\n\t"
        "bic lr, r10, #0x00300030\n\t"
        "bic r5, r7, #0x000C000C\n\t"
        "bic r6, r8, #0x000C000C\n\t"
        "bic r9, r11, #0x000C000C\n\t"
        "bic r10, lr, #0x000C000C\n\t"
        "stmia r1!, {r5-r11, lr}\n\t"
        "subs r12, r12, #1\n\t"
        "bne 3b\n\t"
        "4:\n\t"
        "add r1, r4, #8\n\t"
        "ldr r12, [sp, #8]\n\t"
        "subs r12, r12, #1\n\t"
        "str r12, [sp, #8]\n\t"
        "bne 1b\n\t"
        MCF_RDX_RETURN("16"));
}

static inline __attribute__((always_inline)) void mcf_rdx_consts(int32_t *q, int32_t *dq, const int32_t *b2,
                                                                 const int16_t *b16, const int32_t *m32,
                                                                 const uint16_t *m16, const int8_t *sh, int32_t nc,
                                                                 int32_t row, int32_t zp, const int32_t bits)
{
    const int32_t g = bits == 4 ? 4 : 8;
    for (int32_t c = 0; c < nc; c += g, q += row * (g / 2), dq += 3 * g) {
        uint32_t pre = 0;
#pragma GCC unroll 8
        for (int32_t j = 0; j < g; ++j) {
            const int32_t b = b16 ? (int32_t)b16[c + j] : b2[c + j];
            const int32_t m = m16 ? (int32_t)((uint32_t)m16[c + j] << 15) : m32[c + j];
            const int32_t e = sh[c + j];
            pre += (uint32_t)(b >> 1) << (bits * j);
            q[(j >> 1) * row + (j & 1)] = (int32_t)pre;
            dq[3 * j] = m >> (j ? bits * j - 1 : 0);
            dq[3 * j + 1] = (int32_t)((1u << (e - 1)) + ((uint32_t)zp << e));
            dq[3 * j + 2] = e;
        }
    }
}

/* mcf_rdx_consts for the layer's storage of biases and multipliers (bits a constant) */
static inline __attribute__((always_inline)) void mcf_rdx_consts_stored(int32_t *q, int32_t *dq, const int32_t *b2,
                                                                        const mcf_requant_sub *rq, int32_t c0,
                                                                        int32_t nc, int32_t row, const int32_t bits)
{
    const int16_t *b16 = rq->bias16 ? rq->bias16 + c0 : NULL;
    const uint16_t *m16 = rq->mult16 ? rq->mult16 + c0 : NULL;
    const int32_t *bb = b2 ? b2 + c0 : NULL, *mm = rq->mult ? rq->mult + c0 : NULL;
    const int8_t *sh = rq->shift + c0;
    if (b16 && m16) {
        mcf_rdx_consts(q, dq, NULL, b16, NULL, m16, sh, nc, row, rq->out_zp, bits);
    } else if (b16) {
        mcf_rdx_consts(q, dq, NULL, b16, mm, NULL, sh, nc, row, rq->out_zp, bits);
    } else if (m16) {
        mcf_rdx_consts(q, dq, bb, NULL, NULL, m16, sh, nc, row, rq->out_zp, bits);
    } else {
        mcf_rdx_consts(q, dq, bb, NULL, mm, NULL, sh, nc, row, rq->out_zp, bits);
    }
}

/* The frame of the unpacking routines, the only local here (see MCF_RDX_ENTER). */
static __attribute__((noinline)) void mcf_rdx_unpack(const uint32_t *src, int32_t *dst, int32_t ngroups, int32_t kgroups,
                                                     int32_t bits)
{
    mcf_rdx_unpack_frame f;
    f.src = src;
    f.dst = dst;
    f.ngroups = ngroups;
    f.kgroups = kgroups;
    f.sp_adjust = 0;
    if (bits == 4) {
        mcf_rdx_unpack4(&f);
    } else {
        mcf_rdx_unpack2(&f);
    }
}

static __attribute__((noinline)) void mcf_rdx_load_block(int32_t *dq, int32_t *wbuf, const uint32_t *w,
                                                         const int32_t *b2, const mcf_requant_sub *rq, int32_t c0,
                                                         int32_t nc, int32_t kgroups, int32_t bits)
{
    const int32_t row = 4 * kgroups + 2;          /* words of a row: 2 biases, then the weights */
    if (bits == 4) {
        mcf_rdx_consts_stored(wbuf, dq, b2, rq, c0, nc, row, 4);
        mcf_rdx_unpack(w + (size_t)(c0 / 4) * kgroups * 2, wbuf, nc / 4, kgroups, 4);
    } else {
        mcf_rdx_consts_stored(wbuf, dq, b2, rq, c0, nc, row, 2);
        mcf_rdx_unpack(w + (size_t)(c0 / 8) * kgroups * 2, wbuf, nc / 8, kgroups, 2);
    }
}

/* Sums of both pixels' columns (lanes 0, 1; kgroups >= 1 groups of 4 words): per group one LDM and
 * four SMLADs with (1, 1), SUBS + BNE (7 instructions; the compiled C loop took 12). */
static __attribute__((noinline)) void mcf_rdx_col_sums(const int32_t *col, int32_t kgroups, int32_t *s)
{
    int32_t s0 = 0, s1 = 0;
    __asm__ volatile(
        "mov.w r12, #0x00010001\n\t"
        "1:\n\t"
        "ldmia %[c]!, {r4, r5, r6, r8}\n\t"
        "smlad %[s0], r4, r12, %[s0]\n\t"
        "smlad %[s0], r5, r12, %[s0]\n\t"
        "smlad %[s1], r6, r12, %[s1]\n\t"
        "smlad %[s1], r8, r12, %[s1]\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n\t"
        : [c] "+r"(col), [n] "+r"(kgroups), [s0] "+r"(s0), [s1] "+r"(s1)
        :
        : "r4", "r5", "r6", "r8", "r12", "cc", "memory");
    s[0] = s0;
    s[1] = s1;
}

/*
 * Decoding, in assembly: the accumulator rows of `npix` pixels, `ngroups` whole groups of G each,
 * into their output bytes (no clamp: the layer's range is all of int8, _rdx_accepts checks),
 * os2 = 2 o S per pixel. Per group of 4 (int4): LDM of the 4 sums, 6 SUB / RSB (the o S terms as
 * shifted operands), per output LDM of {m', rcz, e} + mcf_dsp_requant (3, or 2 under single
 * rounding) + SSAT + STRB; SUBS + BNE: 33 instructions per 4 outputs. Ternary: two halves of 4 (a_3
 * read again for the second), 67 per 8. Per pixel about 15 more (the state in the frame, at sp).
 */
typedef struct {
    const int32_t *acc;      /*  0: the next pixel's row */
    const int32_t *dq;       /*  4: {m', rcz, e} per channel */
    int8_t *out;             /*  8: the next pixel's first output byte */
    int32_t ngroups;         /* 12 */
    const int32_t *sums;     /* 16: the next pixel's column sum */
    int32_t npix;            /* 20: pixels left */
    int32_t out_stride;      /* 24: bytes */
    int32_t acc_stride;      /* 28: words */
    uint32_t saved[9];       /* 32 */
    uint32_t sp_adjust;      /* 68 */
} mcf_rdx_dec;

#define MCF_RDX_RQ(acc)                                                             \
    "ldmia r1!, {r9, r10, r11}\n\t"                                                 \
    MCF_DSP_RQ_ASM("r12", acc, "r9", "r10", "r11")                                  \
    "ssat r12, #8, r12\n\t"                                                         \
    "strb r12, [r2], #1\n\t"

/* per pixel: the row, dq, out, the group count, os2 = S << log2(2 o); the pointers of the next */
#define MCF_RDX_PIXEL(os_shift)                                                     \
    MCF_RDX_ENTER("72", "32", "r1-r8")                                              \
    "10:\n\t"                                                                       \
    "ldm sp, {r0, r1, r2, r3, r4}\n\t"                                              \
    "ldr r5, [r4], #4\n\t"                                                          \
    "str r4, [sp, #16]\n\t"                                                         \
    "lsl r4, r5, #" os_shift "\n\t"                                                 \
    "ldrd r5, r6, [sp, #24]\n\t"                                                    \
    "add r6, r0, r6, lsl #2\n\t"                                                    \
    "add r5, r2, r5\n\t"                                                            \
    "str r6, [sp]\n\t"                                                              \
    "str r5, [sp, #8]\n\t"

#define MCF_RDX_NEXT_PIXEL                                                          \
    "ldr r5, [sp, #20]\n\t"                                                         \
    "subs r5, r5, #1\n\t"                                                           \
    "str r5, [sp, #20]\n\t"                                                         \
    "bne 10b\n\t"                                                                   \
    MCF_RDX_RETURN("32")

static void __attribute__((naked, noinline)) mcf_rdx_decode4(mcf_rdx_dec *p __attribute__((unused)))
{
    __asm__ volatile(
        MCF_RDX_PIXEL("4")
        "1:\n\t"
        "ldmia r0!, {r5, r6, r7, r8}\n\t"
        "sub r8, r8, r7\n\t"
        "sub r7, r7, r6\n\t"
        "sub r7, r7, r4, lsl #7\n\t"
        "sub r6, r6, r5\n\t"
        "sub r6, r6, r4, lsl #3\n\t"
        "rsb r5, r4, r5, lsl #1\n\t"
        MCF_RDX_RQ("r5") MCF_RDX_RQ("r6") MCF_RDX_RQ("r7") MCF_RDX_RQ("r8")
        "subs r3, r3, #1\n\t"
        "bne 1b\n\t"
        MCF_RDX_NEXT_PIXEL);
}

static void __attribute__((naked, noinline)) mcf_rdx_decode2(mcf_rdx_dec *p __attribute__((unused)))
{
    __asm__ volatile(
        MCF_RDX_PIXEL("1")
        "1:\n\t"
        "ldmia r0!, {r5, r6, r7, r8}\n\t"
        "sub r8, r8, r7\n\t"
        "sub r8, r8, r4, lsl #5\n\t"
        "sub r7, r7, r6\n\t"
        "sub r7, r7, r4, lsl #3\n\t"
        "sub r6, r6, r5\n\t"
        "sub r6, r6, r4, lsl #1\n\t"
        "rsb r5, r4, r5, lsl #1\n\t"
        MCF_RDX_RQ("r5") MCF_RDX_RQ("r6") MCF_RDX_RQ("r7") MCF_RDX_RQ("r8")
        "ldr r5, [r0, #-4]\n\t"
        "ldmia r0!, {r6, r7, r8, lr}\n\t"
        "sub lr, lr, r8\n\t"
        "sub r8, r8, r7\n\t"
        "sub r8, r8, r4, lsl #11\n\t"
        "sub r7, r7, r6\n\t"
        "sub r7, r7, r4, lsl #9\n\t"
        "sub r6, r6, r5\n\t"
        "sub r6, r6, r4, lsl #7\n\t"
        MCF_RDX_RQ("r6") MCF_RDX_RQ("r7") MCF_RDX_RQ("r8") MCF_RDX_RQ("lr")
        "subs r3, r3, #1\n\t"
        "bne 1b\n\t"
        MCF_RDX_NEXT_PIXEL);
}

/* The same in C for a last group of fewer than G real channels (out_c not a multiple of G). */
static __attribute__((noinline)) void mcf_rdx_decode_part(const int32_t *acc, const int32_t *dq, int8_t *out,
                                                          int32_t n, uint32_t os2, int32_t bits)
{
    const uint32_t *a = (const uint32_t *)acc;
    const int32_t g = bits == 4 ? 4 : 8;
    for (int32_t j = 0; j < n; ++j, dq += 3) {
        const uint32_t d = j == 0 ? (a[0] << 1) - os2
                         : j == g - 1 ? a[j] - a[j - 1] : a[j] - a[j - 1] - (os2 << (bits * j - 1));
        out[j] = (int8_t)__ssat(mcf_dsp_requant((int32_t)d, dq[0], dq[1], dq[2]), 8);
    }
}

/* The frame of the decoding routines, the only local here (see MCF_RDX_ENTER). */
static __attribute__((noinline)) void mcf_rdx_decode_whole(const int32_t *acc, const int32_t *sums, const int32_t *dq,
                                                           int8_t *out, int32_t npix, int32_t out_stride, int32_t nc,
                                                           int32_t whole, int32_t bits)
{
    mcf_rdx_dec p;
    p.acc = acc;
    p.dq = dq;
    p.out = out;
    p.ngroups = whole;
    p.sums = sums;
    p.npix = npix;
    p.out_stride = out_stride;
    p.acc_stride = nc;
    p.sp_adjust = 0;
    if (bits == 4) {
        mcf_rdx_decode4(&p);
    } else {
        mcf_rdx_decode2(&p);
    }
}

/* The accumulator rows of npix pixels (row i at acc + i * nc) -> their nreal output bytes each
 * (pixel i at out + i * out_stride). */
static inline void mcf_rdx_decode(const int32_t *acc, const int32_t *sums, const int32_t *dq, int8_t *out,
                                  int32_t npix, int32_t out_stride, int32_t nc, int32_t nreal, int32_t bits)
{
    const int32_t g = bits == 4 ? 4 : 8;
    const int32_t whole = nreal / g;
    if (whole) {
        mcf_rdx_decode_whole(acc, sums, dq, out, npix, out_stride, nc, whole, bits);
    }
    for (int32_t i = 0; nreal % g && i < npix; ++i) {
        mcf_rdx_decode_part(acc + (size_t)i * nc + whole * g, dq + 3 * whole * g, out + (size_t)i * out_stride + whole * g,
                            nreal % g, (uint32_t)sums[i] * (bits == 4 ? 16u : 2u), bits);
    }
}

/*
 * The convolution window's GEMM in the radix form: the columns of `cols` pixel pairs built once
 * per chunk (mcf_conv2d_s8_dsp_cols) with their sums, blocks of `block` real channels (a multiple
 * of G) unpacked (once in all when there is one block or one chunk), each run over the chunk's
 * pixels in one call (mcf_conv2d_s8_dsp_run_acc) into one accumulator row per pixel, then each
 * row decoded. Scratch: the columns (4 K4 bytes a pair) and the padding segment (L4 + 8), the
 * sums (2 words a pair), the accumulator rows (2 cols block words), the decode constants (3 block
 * words), the rows (block (K4 / 2 + 1) words: per pair of virtual channels 2 biases + K4 weights).
 */
static inline void mcf_sub_rdx_gemm(const mcf_window *win, const int8_t *in, int8_t *out, const uint8_t *weights,
                                    const int32_t *b2, const mcf_requant_sub *rq, void *scratch, int32_t block,
                                    int32_t cols, int32_t bits)
{
    const int32_t seg_len = win->dil_w == 1 ? win->k_w * win->in_c : win->in_c;
    const int32_t n_seg = win->dil_w == 1 ? win->k_h : win->k_h * win->k_w;
    const int32_t l4 = (seg_len + 3) & ~3;
    const int32_t kgroups = n_seg * l4 / 4, k4 = 4 * kgroups;
    const int32_t g = bits == 4 ? 4 : 8;
    const int32_t out_c = win->out_c, out_cp = (out_c + g - 1) / g * g;
    int32_t *colbuf = (int32_t *)scratch;
    int32_t *sums = colbuf + k4 * cols + l4 / 4 + 2;
    int32_t *accbuf = sums + 2 * cols;
    int32_t *dq = accbuf + 2 * cols * block;
    int32_t *wbuf = dq + 3 * block;
    const uint32_t *w = (const uint32_t *)(const void *)weights;
    mcf_conv2d_s8_args a8 = mcf_sub_int8_args(win, 1, rq, wbuf, NULL, scratch);
    const int32_t npix = win->out_h * win->out_w, npairs = (npix + 1) >> 1;
    int first = 1;
    for (int32_t n = 0; n < win->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * win->in_h * win->in_w * win->in_c;
        int8_t *out_n = out + (size_t)n * npix * out_c;
        for (int32_t pair0 = 0; pair0 < npairs; pair0 += cols) {
            const int32_t np = npairs - pair0 < cols ? npairs - pair0 : cols;
            const int32_t px = 2 * pair0 + 2 * np <= npix ? 2 * np : 2 * np - 1;     /* pixels of the chunk */
            mcf_conv2d_s8_dsp_cols(&a8, in_n, pair0, np, colbuf);
            for (int32_t i = 0; i < np; ++i) {
                mcf_rdx_col_sums(colbuf + (size_t)i * k4, kgroups, sums + 2 * i);
            }
            for (int32_t c0 = 0; c0 < out_cp; c0 += block) {
                const int32_t nc = out_cp - c0 < block ? out_cp - c0 : block;
                const int32_t nreal = out_c - c0 < nc ? out_c - c0 : nc;
                if (first || block < out_cp) {
                    mcf_rdx_load_block(dq, wbuf, w, b2, rq, c0, nc, kgroups, bits);
                }
                mcf_conv2d_s8_dsp_run_acc(colbuf, px >> 1, px & 1, wbuf, nc >> 1, kgroups, accbuf, nc);
                mcf_rdx_decode(accbuf, sums, dq, out_n + (size_t)2 * pair0 * out_c + c0, px, out_c, nc, nreal, bits);
            }
            first = 0;
        }
    }
}

static inline void mcf_conv2d_sub_dsp_rdx(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits)
{
    mcf_sub_rdx_gemm(&a->win, in, out, a->weights, a->bias, &a->rq, a->scratch, a->block, a->cols, bits);
}

#endif /* __ARM_FEATURE_DSP */
#endif /* MCF_SUBBYTE_DSP_RDX_H */
