/*
 * mcf_subbyte_dsp.h - convolution (groups 1) and fully connected layers with int4 / ternary
 * weights on the DSP extension (Cortex-M4 / M7 / M33), instantiated per width by
 * mcf_conv2d_s8_w4_dsp.c, ..._w2_dsp.c, mcf_fully_connected_s8_w4_dsp.c, ..._w2_dsp.c (and their
 * _dsp_lsh / _dsp_lss forms for layers with left-shift channels).
 *
 * The weights stay packed in flash; at run time a block of `block` output channels is unpacked
 * into the scratch in exactly the layout the int8 DSP kernel reads (doubled int16 weights in
 * SXTB16 order, channel pairs interleaved per group of 4 K; mcf_conv2d_s8_dsp.c), with that
 * block's per-channel constants, and the int8 kernel's own im2col + hand-scheduled SMLAD loop
 * (mcf_conv2d_s8_dsp_block) runs the block over all pixels. So the multiply-accumulate work is
 * the int8 path's instruction for instruction; the extra work is the unpacking (1.25 instructions
 * a weight, 1.0 in the scaled form, once per block per call) and, when the layer has more channels
 * than one block, either the im2col repeated per block or, with the columns of the pixel pairs
 * kept (cols), nothing more than per-block set-up. `block` and `cols` are chosen at compile time
 * (codegen/c/variants/dsp_subbyte.py: sub_dsp_schedule) from a scratch budget, which the arena's
 * slack may raise (codegen/c/slack.py); a layer that fits unpacks once.
 *
 * Flash layout (compile time), per channel pair (an odd last channel paired with zeros), per
 * group of 4 K of the int8 kernel's segmented patch (segments zero-padded to multiples of 4)
 * (scaled layers: the same fields as two's complement, w & 15 / w & 3, see below):
 *   int4:    one word per group; byte i = (w0[i] + 8) | (w1[i] + 8) << 4   (offset binary)
 *   ternary: one word per two groups g, g+1 (their count rounded up to even); byte i =
 *            (w0[g][i] + 1) | (w1[g][i] + 1) << 2 | (w0[g+1][i] + 1) << 4 | (w1[g+1][i] + 1) << 6
 * Unpacking one field of the four bytes (f: the field's offset in bits):
 *   m = SSUB8((word >> f << 1) & mask, 2^(bits-1) * 2 in each byte)   mask 0x1E1E1E1E / 0x06060606
 * gives the four doubled weights 2 w[i] as int8 bytes, then SXTB16 and SXTB16 ROR 8 give the
 * int8 kernel's (2 w0, 2 w2) and (2 w1, 2 w3) words: exact, no scaling.
 * Per-channel constants in flash (9 bytes a channel, 7 with `rq.mult16`, 5 with `bias16` too in
 * the convolution and depthwise (the FC row keeps int32 biases); read through mcf_sub_mult /
 * mcf_sub_bias, the GEMM blocks' biases through rq.bias16): `bias` = 2 * (bias - in_zp * sum w),
 * `mult` = the Q31 multiplier, `shift` = e = -shift (1..22); rcz = 2^(e-1) + out_zp 2^e is formed
 * at run time. A dead (all-zero) channel has m = 2^30, e = 1, bias = 8 (y - out_zp): its constant
 * output y (mcf_dsp_requant gives exactly y).
 */
#ifndef MCF_SUBBYTE_DSP_H
#define MCF_SUBBYTE_DSP_H

#include "mcf_arith.h"
#include "mcf_fc_as_conv.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"
#include "mcf_subbyte.h"
#include "mcf_subbyte_ref.h"
#include "mcf_variants.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

/* A constant kept in a register, so that GCC folds a shift into the AND's operand (AND r, m, u,
 * LSR #s: one instruction) instead of a shift and an AND with an immediate. */
static inline uint32_t mcf_sub_reg(uint32_t v)
{
    __asm__("" : "+r"(v));
    return v;
}

/* The four doubled weights of one field as the int8 kernel's two words. */
#define MCF_SUB_UNPACK(m, d0, d1)               \
    do {                                        \
        (d0) = (int32_t)__sxtb16(m);            \
        (d1) = (int32_t)mcf_sxtb16_ror8(m);     \
    } while (0)

/*
 * The unpacking loops in assembly: GCC's loop of the same operations took 17 instructions per
 * int4 word (8 weights: the stores one by one, the pointer and the loop test apart); these take
 * 20 per 16 weights (one LDM, 4 x (AND, SSUB8, SXTB16, SXTB16 ROR 8), one STM of the 8 result
 * words, SUBS + BNE / BGE): 1.25 instructions a weight. The result words go to r3-r6 and r8-r11
 * (ascending, so one STM writes them in order; r7 is left alone, the frame pointer of an
 * unoptimized build), the mask stays in r12 and the bytes' offset in lr.
 *
 * Scaled layers (variants/dsp_subbyte.py: scaled_ok): two's-complement fields, and each field
 * moved to the top bits of its byte, where SXTB16 sign-extends it as it stands: 16 w (int4) or
 * 64 w (ternary) instead of 2 w, no SSUB8: AND (shift folded), SXTB16, SXTB16 ROR 8 per field,
 * 16 instructions per 16 weights. The int8 kernel's accumulator is then 8 (32) times the doubled
 * one, and the layer's multipliers are stored divided by 8 (32) and its biases multiplied, so
 * A' m' = A m: the requantization gives the same bytes (the compiler takes this form only where
 * every multiplier is a multiple of 8 (32), the 16-bit-mantissa multipliers of sub-byte scales,
 * and the larger accumulator still fits 32 bits). Mask 0xF0F0F0F0 (0xC0C0C0C0) in r12.
 */

/* One field of the packed word `u` as the int8 kernel's two words d0 = (2 w0, 2 w2), d1 = (2 w1,
 * 2 w3): offset binary (shift `sh` folded into the AND, mask in r12, the bytes' offset in lr), or
 * scaled (16 / 64 times those, mask in r12; sh "" or ", lsl #k"). */
#define MCF_SUB_FIELD_ASM(d0, d1, u, sh)                                            \
    "and " d1 ", r12, " u ", " sh "\n\t"                                            \
    "ssub8 " d1 ", " d1 ", lr\n\t"                                                  \
    "sxtb16 " d0 ", " d1 "\n\t"                                                     \
    "sxtb16 " d1 ", " d1 ", ror #8\n\t"
#define MCF_SUB_SFIELD_ASM(d0, d1, u, sh)                                           \
    "and " d1 ", r12, " u sh "\n\t"                                                 \
    "sxtb16 " d0 ", " d1 "\n\t"                                                     \
    "sxtb16 " d1 ", " d1 ", ror #8\n\t"
/* the fields of an int4 word (ch0 low nibbles, ch1 high) and of a ternary word (ch0 g, ch1 g,
 * ch0 g + 1, ch1 g + 1 from the low bits), offset binary (O) and scaled (S) */
#define MCF_SUB_O4_0(d0, d1, u) MCF_SUB_FIELD_ASM(d0, d1, u, "lsl #1")
#define MCF_SUB_O4_1(d0, d1, u) MCF_SUB_FIELD_ASM(d0, d1, u, "lsr #3")
#define MCF_SUB_S4_0(d0, d1, u) MCF_SUB_SFIELD_ASM(d0, d1, u, ", lsl #4")
#define MCF_SUB_S4_1(d0, d1, u) MCF_SUB_SFIELD_ASM(d0, d1, u, "")
#define MCF_SUB_O2_0(d0, d1, u) MCF_SUB_FIELD_ASM(d0, d1, u, "lsl #1")
#define MCF_SUB_O2_1(d0, d1, u) MCF_SUB_FIELD_ASM(d0, d1, u, "lsr #1")
#define MCF_SUB_O2_2(d0, d1, u) MCF_SUB_FIELD_ASM(d0, d1, u, "lsr #3")
#define MCF_SUB_O2_3(d0, d1, u) MCF_SUB_FIELD_ASM(d0, d1, u, "lsr #5")
#define MCF_SUB_S2_0(d0, d1, u) MCF_SUB_SFIELD_ASM(d0, d1, u, ", lsl #6")
#define MCF_SUB_S2_1(d0, d1, u) MCF_SUB_SFIELD_ASM(d0, d1, u, ", lsl #4")
#define MCF_SUB_S2_2(d0, d1, u) MCF_SUB_SFIELD_ASM(d0, d1, u, ", lsl #2")
#define MCF_SUB_S2_3(d0, d1, u) MCF_SUB_SFIELD_ASM(d0, d1, u, "")

#define MCF_SUB_WORDS_FN(name, body)                                                \
    static __attribute__((noinline)) void name(const uint32_t *src, int32_t *dst, int32_t n) \
    {                                                                               \
        register const uint32_t *s __asm__("r0") = src;                             \
        register int32_t *d __asm__("r1") = dst;                                    \
        register int32_t k __asm__("r2") = n;                                       \
        __asm__ volatile(body                                                       \
                         : "+r"(s), "+r"(d), "+r"(k)                                \
                         :                                                          \
                         : "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory"); \
    }

/* int4: n flash words (one per group of 4 K of a channel pair) -> 4 n words (per word ch0's two
 * then ch1's), two words per pass. */
#define MCF_SUB_WORDS4(setup, F0, F1)                                               \
    setup                                                                           \
    "subs r2, r2, #2\n\t"                                                           \
    "blt 2f\n\t"                                                                    \
    "1:\n\t"                                                                        \
    "ldmia r0!, {r10, r11}\n\t"                                                     \
    F0("r3", "r4", "r10") F1("r5", "r6", "r10") F0("r8", "r9", "r11") F1("r10", "r11", "r11") \
    "stmia r1!, {r3-r6, r8-r11}\n\t"                                                \
    "subs r2, r2, #2\n\t"                                                           \
    "bge 1b\n\t"                                                                    \
    "2:\n\t"                                                                        \
    "adds r2, r2, #2\n\t"                                                           \
    "beq 3f\n\t"                                                                    \
    "ldmia r0!, {r10}\n\t"                                                          \
    F0("r3", "r4", "r10") F1("r5", "r6", "r10")                                     \
    "stmia r1!, {r3-r6}\n\t"                                                        \
    "3:\n\t"

/* ternary: n >= 1 flash words (one per two groups of a channel pair) -> 8 n words (group g: ch0's
 * two, ch1's two; then group g + 1's), one word per pass. */
#define MCF_SUB_WORDS2(setup, F0, F1, F2, F3)                                       \
    setup                                                                           \
    "1:\n\t"                                                                        \
    "ldmia r0!, {r11}\n\t"                                                          \
    F0("r3", "r4", "r11") F1("r5", "r6", "r11") F2("r8", "r9", "r11") F3("r10", "r11", "r11") \
    "stmia r1!, {r3-r6, r8-r11}\n\t"                                                \
    "subs r2, r2, #1\n\t"                                                           \
    "bne 1b\n\t"

MCF_SUB_WORDS_FN(mcf_sub_unpack4_words, MCF_SUB_WORDS4("mov.w r12, #0x1E1E1E1E\n\tmov.w lr, #0x10101010\n\t",
                                                       MCF_SUB_O4_0, MCF_SUB_O4_1))
MCF_SUB_WORDS_FN(mcf_sub_unpack4s_words, MCF_SUB_WORDS4("mov.w r12, #0xF0F0F0F0\n\t", MCF_SUB_S4_0, MCF_SUB_S4_1))
MCF_SUB_WORDS_FN(mcf_sub_unpack2_words, MCF_SUB_WORDS2("mov.w r12, #0x06060606\n\tmov.w lr, #0x02020202\n\t",
                                                       MCF_SUB_O2_0, MCF_SUB_O2_1, MCF_SUB_O2_2, MCF_SUB_O2_3))
MCF_SUB_WORDS_FN(mcf_sub_unpack2s_words, MCF_SUB_WORDS2("mov.w r12, #0xC0C0C0C0\n\t",
                                                        MCF_SUB_S2_0, MCF_SUB_S2_1, MCF_SUB_S2_2, MCF_SUB_S2_3))

/* One field f (0: ch0 of group g, 1: ch1, 2: ch0 of g + 1, 3: ch1; int4 only 0 and 1) of a flash
 * word as its four bytes 2 w (offset binary) or 16 w / 64 w (scaled, two's complement), for the
 * C tails of the loops above. */
static inline uint32_t mcf_sub_field(uint32_t u, int32_t f, int32_t bits, int32_t scaled)
{
    if (bits == 4) {
        return scaled ? (f ? u : u << 4) & 0xF0F0F0F0u
                      : (uint32_t)__ssub8((f ? u >> 3 : u << 1) & 0x1E1E1E1Eu, 0x10101010u);
    }
    return scaled ? (u << (6 - 2 * f)) & 0xC0C0C0C0u
                  : (uint32_t)__ssub8(((u << 1) >> (2 * f)) & 0x06060606u, 0x02020202u);
}

/* Channel pairs [0, pairs) of the block, then an odd last channel (odd != 0), from their flash
 * words into dst (int8 DSP layout: per group ch0's two words then ch1's; the odd channel's two). */
static __attribute__((noinline)) void mcf_sub_unpack4(const uint32_t *src, int32_t *dst, int32_t pairs, int32_t odd,
                                                      int32_t groups, int32_t scaled)
{
    (scaled ? mcf_sub_unpack4s_words : mcf_sub_unpack4_words)(src, dst, pairs * groups);
    src += (size_t)pairs * groups;
    dst += (size_t)pairs * groups * 4;
    if (odd) {
        for (int32_t g = 0; g < groups; ++g, dst += 2) {
            const uint32_t m0 = mcf_sub_field(src[g], 0, 4, scaled);
            MCF_SUB_UNPACK(m0, dst[0], dst[1]);
        }
    }
}

static __attribute__((noinline)) void mcf_sub_unpack2(const uint32_t *src, int32_t *dst, int32_t pairs, int32_t odd,
                                                      int32_t groups, int32_t scaled)
{
    void (*const words_fn)(const uint32_t *, int32_t *, int32_t) = scaled ? mcf_sub_unpack2s_words
                                                                           : mcf_sub_unpack2_words;
    const int32_t words = (groups + 1) >> 1;
    if ((groups & 1) == 0 && pairs > 0) {            /* every word whole: the pairs' words in one run */
        words_fn(src, dst, pairs * words);
        dst += (size_t)pairs * words * 8;
    } else {
        for (int32_t p = 0; p < pairs; ++p) {        /* the last word of a pair holds one group */
            const uint32_t *s = src + (size_t)p * words;
            if (words > 1) {
                words_fn(s, dst, words - 1);
                dst += (size_t)(words - 1) * 8;
            }
            const uint32_t u = s[words - 1];
            const uint32_t m0 = mcf_sub_field(u, 0, 2, scaled), m1 = mcf_sub_field(u, 1, 2, scaled);
            MCF_SUB_UNPACK(m0, dst[0], dst[1]);
            MCF_SUB_UNPACK(m1, dst[2], dst[3]);
            dst += 4;
        }
    }
    if (odd) {
        const uint32_t *s = src + (size_t)pairs * words;
        for (int32_t g = 0; g < groups; g += 2) {
            const uint32_t u = *s++;
            const uint32_t m0 = mcf_sub_field(u, 0, 2, scaled);
            MCF_SUB_UNPACK(m0, dst[0], dst[1]);
            dst += 2;
            if (g + 1 < groups) {
                const uint32_t m2 = mcf_sub_field(u, 2, 2, scaled);
                MCF_SUB_UNPACK(m2, dst[0], dst[1]);
                dst += 2;
            }
        }
    }
}

/* rcz of mcf_dsp_requant for exponent e */
static inline int32_t mcf_sub_rcz(int32_t e, int32_t out_zp)
{
    return (int32_t)((1u << (e - 1)) + ((uint32_t)out_zp << e));
}

/* The e word of mcf_conv2d_s8_dsp_block_lsh (MCF_CONV_DSP_LSH in mcf_conv2d_s8_dsp.c): e | 0xFFFFFF00
 * for a right shift e >= 1, 0 for a channel stored with e <= 0 (left shift -e folded into the
 * weights); then rcz = out_zp. Without lsh the plain e. */
static inline int32_t mcf_sub_eword(int32_t e, int32_t lsh)
{
    return !lsh ? e : e > 0 ? (int32_t)((uint32_t)e | 0xFFFFFF00u) : 0;
}

static inline int32_t mcf_sub_rcz_lsh(int32_t e, int32_t out_zp)
{
    return e > 0 ? mcf_sub_rcz(e, out_zp) : out_zp;
}

/* lsh = 2 (single rounding, the plain kernel; variants/dsp_subbyte.py: _conv_lsh_single_accepts): a
 * channel stored with e <= 0 has 2^(-e) = 2^(s+1) folded into its bias and weights (A = 2^(s+2) acc)
 * and requantizes with e = 1, rcz = 1 + 2 out_zp: SMMLA(A, m, rcz) >> 1 = floor(y + 1/2) + out_zp. */
static inline int32_t mcf_sub_e_single(int32_t e, int32_t lsh)
{
    return lsh == 2 && e <= 0 ? 1 : e;
}

/* Channels [c0, c0 + nc) of the layer's constants in the int8 kernel's packed_quant layout; k: the
 * scaled layers' log2 SCALE (biases times 2^k, multipliers divided by it, exact), else 0. lsh: 0, 1
 * (the _lsh kernel's e words) or 2 (mcf_sub_e_single). */
static void mcf_sub_block_quant(int32_t *q, const int32_t *b2, const mcf_requant_sub *rq, int32_t c0, int32_t nc,
                                int32_t lsh, int32_t k)
{
    const int32_t zp = rq->out_zp;
    int32_t c = c0;
    for (; c + 1 < c0 + nc; c += 2, q += 8) {
        const int32_t e0 = mcf_sub_e_single(rq->shift[c], lsh), e1 = mcf_sub_e_single(rq->shift[c + 1], lsh);
        q[0] = mcf_sub_bias(b2, rq->bias16, c) * (1 << k);
        q[1] = mcf_sub_bias(b2, rq->bias16, c + 1) * (1 << k);
        q[2] = mcf_sub_mult(rq, c) >> k;
        q[3] = mcf_sub_rcz_lsh(e0, zp);
        q[4] = mcf_sub_eword(e0, lsh == 1);
        q[5] = mcf_sub_mult(rq, c + 1) >> k;
        q[6] = mcf_sub_rcz_lsh(e1, zp);
        q[7] = mcf_sub_eword(e1, lsh == 1);
    }
    if (c < c0 + nc) {
        q[0] = mcf_sub_bias(b2, rq->bias16, c) * (1 << k);
        q[1] = mcf_sub_mult(rq, c) >> k;
        const int32_t e = mcf_sub_e_single(rq->shift[c], lsh);
        q[2] = mcf_sub_rcz_lsh(e, zp);
        q[3] = mcf_sub_eword(e, lsh == 1);
        q += 4;
    }
    q[0] = 0;
    q[1] = 0;
}

/* lsh: the unpacked doubled weights of channels [c0, c0 + nc) stored with e = -s < 0 times 2^s
 * (SADD16 doubles both halfwords; |2^(s+1) w| < 2^15, variants/dsp_subbyte.py). Layout as
 * mcf_sub_unpack4 / 2 write it: per pair and group ch0's two words then ch1's, an odd last channel's
 * two words per group. */
static __attribute__((noinline)) void mcf_sub_scale_left(int32_t *wbuf, const int8_t *shift, int32_t c0, int32_t nc,
                                                        int32_t groups)
{
    for (int32_t i = 0; i < nc; ++i) {
        const int32_t s = -shift[c0 + i];
        if (s <= 0) {
            continue;
        }
        const int32_t odd = (i & 1) == 0 && i + 1 == nc;
        uint32_t *w = (uint32_t *)wbuf + (size_t)(i >> 1) * 4 * groups + (odd ? 0 : 2 * (i & 1));
        const int32_t step = odd ? 2 : 4;
        for (int32_t g = 0; g < groups; ++g, w += step) {
            uint32_t w0 = w[0], w1 = w[1];
            for (int32_t k = 0; k < s; ++k) {
                w0 = __sadd16(w0, w0);
                w1 = __sadd16(w1, w1);
            }
            w[0] = w0;
            w[1] = w1;
        }
    }
}

/* Channels [c0, c0 + nc) into the scratch: their constants (qbuf) and unpacked weights (wbuf). */
static inline void mcf_sub_dsp_load_block(int32_t *qbuf, int32_t *wbuf, const uint32_t *w, const int32_t *b2,
                                          const mcf_requant_sub *rq, int32_t c0, int32_t nc, int32_t groups,
                                          int32_t bits, int32_t lsh, int32_t scaled)
{
    const int32_t pair_words = bits == 4 ? groups : (groups + 1) >> 1;
    const uint32_t *src = w + (size_t)(c0 >> 1) * pair_words;
    mcf_sub_block_quant(qbuf, b2, rq, c0, nc, lsh, scaled ? (bits == 4 ? 3 : 5) : 0);
    if (bits == 4) {
        mcf_sub_unpack4(src, wbuf, nc >> 1, nc & 1, groups, scaled);
    } else {
        mcf_sub_unpack2(src, wbuf, nc >> 1, nc & 1, groups, scaled);
    }
    if (lsh) {
        mcf_sub_scale_left(wbuf, rq->shift, c0, nc, groups);
    }
}

/*
 * The GEMM of a convolution window (a fully connected layer's as a 1x1 one) in blocks of `block`
 * output channels (even, or all of them). lsh: the layer has channels with a left shift (stored
 * e <= 0), 1: run by the int8 kernel's _lsh requantization, 2: by the plain one under single
 * rounding (mcf_sub_e_single).
 * cols = 0: each block runs mcf_conv2d_s8_dsp_block(_lsh) over every pixel, which builds the
 *   columns of every pixel pair again per block. Scratch: the int8 kernel's (4 k4 + L4 + 8 bytes),
 *   the block's constants (4 block + 2 words), its unpacked weights (block k4 halfwords).
 * cols >= 1: the columns of `cols` pixel pairs are built once (mcf_conv2d_s8_dsp_cols) and the
 *   blocks cycle over them (mcf_conv2d_s8_dsp_run_cols); with more pairs than that, chunk by chunk,
 *   each chunk unpacking the blocks again (a single block is unpacked once). Scratch: the columns
 *   (4 k4 bytes a pair) instead of one pair's, the rest as above. The compiler picks cols / block
 *   (variants/dsp_subbyte.py: sub_dsp_schedule) from the scratch it may take.
 * scaled: the weights unpacked as 16 w / 64 w (mcf_sub_unpack4s_words), the constants scaled to
 * match when a block's are formed (mcf_sub_block_quant: bias x 8 / 32, multiplier / 8 / 32, exact;
 * flash keeps the compact unscaled ones).
 */
static inline void mcf_sub_dsp_gemm(const mcf_window *win, const int8_t *in, int8_t *out, const uint8_t *weights,
                                    const int32_t *b2, const mcf_requant_sub *rq, void *scratch, int32_t block,
                                    int32_t cols, int32_t bits, int32_t lsh, int32_t scaled)
{
    const int32_t seg_len = win->dil_w == 1 ? win->k_w * win->in_c : win->in_c;
    const int32_t n_seg = win->dil_w == 1 ? win->k_h : win->k_h * win->k_w;
    const int32_t l4 = (seg_len + 3) & ~3;
    const int32_t groups = n_seg * l4 / 4;
    const int32_t out_c = win->out_c;
    int32_t *qbuf = (int32_t *)scratch + 4 * groups * (cols > 1 ? cols : 1) + l4 / 4 + 2;
    int32_t *wbuf = qbuf + 4 * block + 2;
    const uint32_t *w = (const uint32_t *)(const void *)weights;
    mcf_conv2d_s8_args a8 = mcf_sub_int8_args(win, 1, rq, wbuf, qbuf, scratch);
    if (cols <= 0) {
        for (int32_t c0 = 0; c0 < out_c; c0 += block) {
            const int32_t nc = out_c - c0 < block ? out_c - c0 : block;
            mcf_sub_dsp_load_block(qbuf, wbuf, w, b2, rq, c0, nc, groups, bits, lsh, scaled);
            a8.win.out_c = nc;
            if (lsh == 1) {
                mcf_conv2d_s8_dsp_block_lsh(&a8, in, out + c0, out_c);
            } else {
                mcf_conv2d_s8_dsp_block(&a8, in, out + c0, out_c);
            }
        }
        return;
    }
    const int32_t npix = win->out_h * win->out_w, npairs = (npix + 1) >> 1;
    int first = 1;
    for (int32_t n = 0; n < win->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * win->in_h * win->in_w * win->in_c;
        int8_t *out_n = out + (size_t)n * npix * out_c;
        for (int32_t pair0 = 0; pair0 < npairs; pair0 += cols) {
            const int32_t np = npairs - pair0 < cols ? npairs - pair0 : cols;
            mcf_conv2d_s8_dsp_cols(&a8, in_n, pair0, np, (int32_t *)scratch);
            for (int32_t c0 = 0; c0 < out_c; c0 += block) {
                const int32_t nc = out_c - c0 < block ? out_c - c0 : block;
                if (first || block < out_c) {
                    mcf_sub_dsp_load_block(qbuf, wbuf, w, b2, rq, c0, nc, groups, bits, lsh, scaled);
                }
                a8.win.out_c = nc;
                if (lsh == 1) {
                    mcf_conv2d_s8_dsp_run_cols_lsh(&a8, (const int32_t *)scratch, pair0, np, out_n + c0, out_c);
                } else {
                    mcf_conv2d_s8_dsp_run_cols(&a8, (const int32_t *)scratch, pair0, np, out_n + c0, out_c);
                }
            }
            first = 0;
        }
    }
}

static inline void mcf_conv2d_sub_dsp(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits,
                                      int32_t lsh)
{
    mcf_sub_dsp_gemm(&a->win, in, out, a->weights, a->bias, &a->rq, a->scratch, a->block, a->cols, bits, lsh,
                     a->scaled);
}

/* One row of a fully connected layer (mcf_sub_fc_row): mcf_subbyte_dsp_fc.h. */
#include "mcf_subbyte_dsp_fc.h"

/* One row on its own (noinline: the call skips the frame of the several-row path). */
static __attribute__((noinline, unused)) void mcf_sub_fc_row_args(const mcf_fully_connected_sub_args *a, const int8_t *in,
                                                                  int8_t *out, int32_t bits)
{
    mcf_sub_fc_row((const uint32_t *)(const void *)a->weights, in, out, a->bias, &a->rq, a->in_features,
                   a->out_features, (int32_t *)a->scratch, bits, a->block);
}

/* A fully connected layer: one row straight from flash (mcf_sub_fc_row), several rows as the 1x1
 * convolution over `rows` pixels of in_features channels, block-outer (cols = 0). lsh (several
 * rows only; the row kernel takes left shifts itself): as mcf_sub_dsp_gemm's, 1 for
 * mcf_fully_connected_s8_w4_dsp_lsh / _w2 (double rounding), 2 for _dsp_lss (single rounding). */
static inline void mcf_fully_connected_sub_dsp(const mcf_fully_connected_sub_args *a, const int8_t *in,
                                               int8_t *out, int32_t bits, int32_t lsh)
{
    if (a->rows == 1) {
        mcf_sub_fc_row_args(a, in, out, bits);
        return;
    }
    const mcf_window w = mcf_fc_window(a->rows, a->in_features, a->out_features);
    mcf_sub_dsp_gemm(&w, in, out, a->weights, a->bias, &a->rq, a->scratch, a->block, 0, bits, lsh, 0);
}

#endif /* __ARM_FEATURE_DSP */
#endif /* MCF_SUBBYTE_DSP_H */
