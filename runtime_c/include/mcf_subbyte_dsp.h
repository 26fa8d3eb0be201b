/*
 * mcf_subbyte_dsp.h - convolution (groups 1) and fully connected layers with int4 / ternary
 * weights on the DSP extension (Cortex-M4 / M7 / M33), instantiated per width by
 * mcf_conv2d_s8_w4_dsp.c, ..._w2_dsp.c, mcf_fully_connected_s8_w4_dsp.c, ..._w2_dsp.c.
 *
 * The weights stay packed in flash; at run time a block of `block` output channels is unpacked
 * into the scratch in exactly the layout the int8 DSP kernel reads (doubled int16 weights in
 * SXTB16 order, channel pairs interleaved per group of 4 K; mcf_conv2d_s8_dsp.c), with that
 * block's per-channel constants, and the int8 kernel's own im2col + hand-scheduled SMLAD loop
 * (mcf_conv2d_s8_dsp_block) runs the block over all pixels. So the multiply-accumulate work is
 * the int8 path's instruction for instruction; the extra work is the unpacking (about 1.3
 * instructions a weight, once per block per call) and, when the layer has more channels than one
 * block, the im2col repeated per block. `block` is chosen at compile time
 * (codegen/c/variants/dsp_subbyte.py) from a scratch budget; a layer that fits unpacks once.
 *
 * Flash layout (compile time), per channel pair (an odd last channel paired with zeros), per
 * group of 4 K of the int8 kernel's segmented patch (segments zero-padded to multiples of 4):
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

/* Channel pairs [0, pairs) of the block, then an odd last channel (odd != 0), from their flash
 * words into dst (int8 DSP layout: per group ch0's two words then ch1's; the odd channel's two). */
static __attribute__((noinline)) void mcf_sub_unpack4(const uint32_t *src, int32_t *dst, int32_t pairs, int32_t odd,
                                                      int32_t groups)
{
    const uint32_t k16 = 0x10101010u, mask = mcf_sub_reg(0x1E1E1E1Eu);
    const uint32_t *end = src + (size_t)pairs * groups;
    while (src < end) {
        const uint32_t u = *src++;
        const uint32_t m0 = __ssub8((u << 1) & mask, k16);
        const uint32_t m1 = __ssub8((u >> 3) & mask, k16);
        MCF_SUB_UNPACK(m0, dst[0], dst[1]);
        MCF_SUB_UNPACK(m1, dst[2], dst[3]);
        dst += 4;
    }
    if (odd) {
        for (int32_t g = 0; g < groups; ++g, dst += 2) {
            const uint32_t m0 = __ssub8((src[g] << 1) & 0x1E1E1E1Eu, k16);
            MCF_SUB_UNPACK(m0, dst[0], dst[1]);
        }
    }
}

static __attribute__((noinline)) void mcf_sub_unpack2(const uint32_t *src, int32_t *dst, int32_t pairs, int32_t odd,
                                                      int32_t groups)
{
    const uint32_t k2 = 0x02020202u, mask = mcf_sub_reg(0x06060606u);
    const int32_t words = (groups + 1) >> 1;
    for (int32_t p = 0; p < pairs; ++p) {
        const uint32_t *s = src + (size_t)p * words;
        for (int32_t g = 0; g < groups; g += 2) {
            const uint32_t u = *s++;
            const uint32_t m0 = __ssub8((u << 1) & mask, k2);
            const uint32_t m1 = __ssub8((u >> 1) & mask, k2);
            MCF_SUB_UNPACK(m0, dst[0], dst[1]);
            MCF_SUB_UNPACK(m1, dst[2], dst[3]);
            dst += 4;
            if (g + 1 < groups) {
                const uint32_t m2 = __ssub8((u >> 3) & mask, k2);
                const uint32_t m3 = __ssub8((u >> 5) & mask, k2);
                MCF_SUB_UNPACK(m2, dst[0], dst[1]);
                MCF_SUB_UNPACK(m3, dst[2], dst[3]);
                dst += 4;
            }
        }
    }
    if (odd) {
        const uint32_t *s = src + (size_t)pairs * words;
        for (int32_t g = 0; g < groups; g += 2) {
            const uint32_t u = *s++;
            const uint32_t m0 = __ssub8((u << 1) & mask, k2);
            MCF_SUB_UNPACK(m0, dst[0], dst[1]);
            dst += 2;
            if (g + 1 < groups) {
                const uint32_t m2 = __ssub8((u >> 3) & mask, k2);
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

/* Channels [c0, c0 + nc) of the layer's constants in the int8 kernel's packed_quant layout. */
static void mcf_sub_block_quant(int32_t *q, const int32_t *b2, const mcf_requant_sub *rq, int32_t c0, int32_t nc,
                                int32_t lsh)
{
    const int32_t zp = rq->out_zp;
    int32_t c = c0;
    for (; c + 1 < c0 + nc; c += 2, q += 8) {
        const int32_t e0 = rq->shift[c], e1 = rq->shift[c + 1];
        q[0] = mcf_sub_bias(b2, rq->bias16, c);
        q[1] = mcf_sub_bias(b2, rq->bias16, c + 1);
        q[2] = mcf_sub_mult(rq, c);
        q[3] = mcf_sub_rcz_lsh(e0, zp);
        q[4] = mcf_sub_eword(e0, lsh);
        q[5] = mcf_sub_mult(rq, c + 1);
        q[6] = mcf_sub_rcz_lsh(e1, zp);
        q[7] = mcf_sub_eword(e1, lsh);
    }
    if (c < c0 + nc) {
        q[0] = mcf_sub_bias(b2, rq->bias16, c);
        q[1] = mcf_sub_mult(rq, c);
        q[2] = mcf_sub_rcz_lsh(rq->shift[c], zp);
        q[3] = mcf_sub_eword(rq->shift[c], lsh);
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

/* The GEMM of a convolution window (a fully connected layer's as a 1x1 one) in blocks of `block`
 * output channels (even, or all of them). Scratch: the int8 kernel's (4 k4 + L4 + 8 bytes), the
 * block's constants (4 block + 2 words), its unpacked weights (block k4 halfwords). lsh: the layer
 * has channels with a left shift (stored e <= 0), run by mcf_conv2d_s8_dsp_block_lsh. */
static inline void mcf_sub_dsp_gemm(const mcf_window *win, const int8_t *in, int8_t *out, const uint8_t *weights,
                                    const int32_t *b2, const mcf_requant_sub *rq, void *scratch, int32_t block,
                                    int32_t bits, int32_t lsh)
{
    const int32_t seg_len = win->dil_w == 1 ? win->k_w * win->in_c : win->in_c;
    const int32_t n_seg = win->dil_w == 1 ? win->k_h : win->k_h * win->k_w;
    const int32_t l4 = (seg_len + 3) & ~3;
    const int32_t groups = n_seg * l4 / 4;
    const int32_t pair_words = bits == 4 ? groups : (groups + 1) >> 1;
    const int32_t out_c = win->out_c;
    int32_t *qbuf = (int32_t *)scratch + 4 * groups + l4 / 4 + 2;
    int32_t *wbuf = qbuf + 4 * block + 2;
    const uint32_t *w = (const uint32_t *)(const void *)weights;
    mcf_conv2d_s8_args a8 = mcf_sub_int8_args(win, 1, rq, wbuf, qbuf, scratch);
    for (int32_t c0 = 0; c0 < out_c; c0 += block) {
        const int32_t nc = out_c - c0 < block ? out_c - c0 : block;
        const uint32_t *src = w + (size_t)(c0 >> 1) * pair_words;
        mcf_sub_block_quant(qbuf, b2, rq, c0, nc, lsh);
        if (bits == 4) {
            mcf_sub_unpack4(src, wbuf, nc >> 1, nc & 1, groups);
        } else {
            mcf_sub_unpack2(src, wbuf, nc >> 1, nc & 1, groups);
        }
        a8.win.out_c = nc;
        if (lsh) {
            mcf_sub_scale_left(wbuf, rq->shift, c0, nc, groups);
            mcf_conv2d_s8_dsp_block_lsh(&a8, in, out + c0, out_c);
        } else {
            mcf_conv2d_s8_dsp_block(&a8, in, out + c0, out_c);
        }
    }
}

static inline void mcf_conv2d_sub_dsp(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits,
                                      int32_t lsh)
{
    mcf_sub_dsp_gemm(&a->win, in, out, a->weights, a->bias, &a->rq, a->scratch, a->block, bits, lsh);
}

/*
 * One row of a fully connected layer (no weight reuse across pixels, so no unpacking to int16):
 * straight from the flash words. Offset-binary fields masked in place are SMLAD operands as they
 * stand: (word >> s) & 0x000F000F (0x00030003 ternary) = (w[i] + o, w[i + 2] + o) as two halfwords,
 * o = 8 (int4) or 1 (ternary), so the sum is sum (w + o) x = sum w x + o sum x, and o sum x (one
 * per row, from the widened row) is taken off once per output: exact. Per 4 K of a channel pair:
 * one load, 4 ANDs, 4 SMLADs (int4); the row is widened once into the scratch ([g][(x0, x2), (x1,
 * x3)], the groups rounded up to even and zero-filled). Raw int8 x (the bias folds in_zp).
 */
#define MCF_SUB_FIELD2(u, s, mask) (((u) >> (s)) & (mask))

/* One output of a row from its dot product: a right shift e >= 1 by mcf_dsp_requant, a channel
 * stored with e = -s <= 0 (multiplier >= 1/2, its bias stored as 2^(s+1) bias') as
 * floor((A m + 2^31) / 2^32) + out_zp with A = 2^(s+1) x: TFLite's SRDHM(2^s x, m) (see DW3_RQ0 in
 * mcf_depthwise_conv2d_s8_dsp3x3.c); |A| < 2^31 (variants/dsp_subbyte.py: _lsh_ok). */
static inline int8_t mcf_sub_fc_out(int32_t dot, int32_t b2, const mcf_requant_sub *rq, int32_t c)
{
    const int32_t e = rq->shift[c];
    const int32_t m = mcf_sub_mult(rq, c);
    const int32_t y = e > 0 ? mcf_dsp_requant(b2 + 2 * dot, m, mcf_sub_rcz(e, rq->out_zp), e)
                            : mcf_smmlar(b2 + dot * (2 << -e), m, rq->out_zp);
    return (int8_t)MCF_CLAMP(__ssat(y, 8), rq->act_min, rq->act_max);
}


/* Four channels (two pairs, their flash words `pw` apart, pw >= 1) of a row at a time: the widened
 * x words are loaded once for four channels instead of two. In assembly because the loop needs all
 * 14 registers (4 accumulators, 2 weight words, 2 x words, mask, temporary, 3 pointers, counter)
 * and GCC spilled: int4 21 instructions per 16 MACs (LDR u, LDR v, LDRD x, 8 x (AND + SMLAD),
 * SUBS + BNE), ternary 38 per 32 (one word pair covers 8 K). No stack: the caller's registers are
 * saved in the scratch after the x words it reads (xend = xp + 8 pw bytes int4, 16 pw ternary),
 * after the four raw dot products (sum (w + o) x) it leaves at xend[0..3]. Returns the weight words
 * past the second pair. */
#define MCF_SUB_Q_MAC(acc, word, s, x)                                              \
    "and r2, r3, " word ", lsr #" #s "\n\t"                                         \
    "smlad " acc ", r2, " x ", " acc "\n\t"

#define MCF_SUB_Q_MAC0(acc, word, x)                                                \
    "and r2, r3, " word "\n\t"                                                      \
    "smlad " acc ", r2, " x ", " acc "\n\t"

#define MCF_SUB_Q_HEAD(mask, xshift)                                                \
    "add r12, r1, r2, lsl #" xshift "\n\t"                                          \
    "add r12, r12, #16\n\t"                                                         \
    "stm r12, {r4-r11, lr}\n\t"                                                     \
    "add r12, r0, r2, lsl #2\n\t"                                                   \
    "mov lr, r2\n\t"                                                                \
    "movs r4, #0\n\t"                                                               \
    "movs r5, #0\n\t"                                                               \
    "movs r6, #0\n\t"                                                               \
    "movs r7, #0\n\t"                                                               \
    "mov.w r3, #" mask "\n\t"                                                       \
    "1:\n\t"                                                                        \
    "ldr r8, [r0], #4\n\t"                                                          \
    "ldr r9, [r12], #4\n\t"                                                         \
    "ldrd r10, r11, [r1], #8\n\t"

#define MCF_SUB_Q_TAIL                                                              \
    "subs lr, lr, #1\n\t"                                                           \
    "bne 1b\n\t"                                                                    \
    "stmia r1!, {r4-r7}\n\t"                                                        \
    "mov r0, r12\n\t"                                                               \
    "ldm r1, {r4-r11, pc}\n\t"

static __attribute__((naked, noinline, unused)) const uint32_t *
mcf_sub_fc_quad4(const uint32_t *w __attribute__((unused)), const uint32_t *xp __attribute__((unused)),
                 int32_t pw __attribute__((unused)))
{
    __asm__ volatile(
        MCF_SUB_Q_HEAD("0x000F000F", "3")
        MCF_SUB_Q_MAC0("r4", "r8", "r10") MCF_SUB_Q_MAC("r4", "r8", 8, "r11")
        MCF_SUB_Q_MAC("r5", "r8", 4, "r10") MCF_SUB_Q_MAC("r5", "r8", 12, "r11")
        MCF_SUB_Q_MAC0("r6", "r9", "r10") MCF_SUB_Q_MAC("r6", "r9", 8, "r11")
        MCF_SUB_Q_MAC("r7", "r9", 4, "r10") MCF_SUB_Q_MAC("r7", "r9", 12, "r11")
        MCF_SUB_Q_TAIL);
}

static __attribute__((naked, noinline, unused)) const uint32_t *
mcf_sub_fc_quad2(const uint32_t *w __attribute__((unused)), const uint32_t *xp __attribute__((unused)),
                 int32_t pw __attribute__((unused)))
{
    __asm__ volatile(
        MCF_SUB_Q_HEAD("0x00030003", "4")
        MCF_SUB_Q_MAC0("r4", "r8", "r10") MCF_SUB_Q_MAC("r4", "r8", 8, "r11")
        MCF_SUB_Q_MAC("r5", "r8", 2, "r10") MCF_SUB_Q_MAC("r5", "r8", 10, "r11")
        MCF_SUB_Q_MAC0("r6", "r9", "r10") MCF_SUB_Q_MAC("r6", "r9", 8, "r11")
        MCF_SUB_Q_MAC("r7", "r9", 2, "r10") MCF_SUB_Q_MAC("r7", "r9", 10, "r11")
        "ldrd r10, r11, [r1], #8\n\t"
        MCF_SUB_Q_MAC("r4", "r8", 4, "r10") MCF_SUB_Q_MAC("r4", "r8", 12, "r11")
        MCF_SUB_Q_MAC("r5", "r8", 6, "r10") MCF_SUB_Q_MAC("r5", "r8", 14, "r11")
        MCF_SUB_Q_MAC("r6", "r9", 4, "r10") MCF_SUB_Q_MAC("r6", "r9", 12, "r11")
        MCF_SUB_Q_MAC("r7", "r9", 6, "r10") MCF_SUB_Q_MAC("r7", "r9", 14, "r11")
        MCF_SUB_Q_TAIL);
}

static __attribute__((noinline)) void mcf_sub_fc_row(const uint32_t *w, const int8_t *x, int8_t *out,
                                                     const int32_t *b2, const mcf_requant_sub *rq, int32_t k,
                                                     int32_t out_c, int32_t *buf, int32_t bits)
{
    const int32_t groups = (k + 3) >> 2;
    const int32_t groups2 = (groups + 1) & ~1;
    int32_t sx = 0;
    for (int32_t g = 0; g < groups2; ++g) {
        uint32_t v = 0;
        if (4 * g + 3 < k) {
            v = (uint32_t)mcf_rd32(x + 4 * g);
        } else {
            for (int32_t i = 0; 4 * g + i < k && i < 4; ++i) {
                v |= (uint32_t)(uint8_t)x[4 * g + i] << (8 * i);
            }
        }
        const uint32_t xe = __sxtb16(v), xo = mcf_sxtb16_ror8(v);
        buf[2 * g] = (int32_t)xe;
        buf[2 * g + 1] = (int32_t)xo;
        sx = __smlad(xe, 0x00010001u, sx);
        sx = __smlad(xo, 0x00010001u, sx);
    }
    const int32_t corr = (bits == 4 ? 8 : 1) * sx;
    const int32_t pw = bits == 4 ? groups : (groups + 1) >> 1;    /* flash words of a channel pair */
    int32_t c = 0;
    const int32_t *acc = buf + (bits == 4 ? 2 : 4) * pw;         /* where the quad loops leave their sums */
    for (; c + 3 < out_c; c += 4) {
        w = (bits == 4 ? mcf_sub_fc_quad4 : mcf_sub_fc_quad2)(w, (const uint32_t *)buf, pw);
        __asm__ volatile("" ::: "memory");      /* the sums were stored by the assembly */
        for (int32_t i = 0; i < 4; ++i) {
            out[c + i] = mcf_sub_fc_out(acc[i] - corr, b2[c + i], rq, c + i);
        }
    }
    for (; c < out_c; c += 2) {
        int32_t a0 = 0, a1 = 0;
        const uint32_t *xp = (const uint32_t *)buf;
        if (bits == 4) {
            const uint32_t m = mcf_sub_reg(0x000F000Fu);
            for (int32_t g = 0; g < groups; ++g, xp += 2) {
                const uint32_t u = *w++;
                a0 = __smlad(u & m, xp[0], a0);
                a0 = __smlad(MCF_SUB_FIELD2(u, 8, m), xp[1], a0);
                a1 = __smlad(MCF_SUB_FIELD2(u, 4, m), xp[0], a1);
                a1 = __smlad(MCF_SUB_FIELD2(u, 12, m), xp[1], a1);
            }
        } else {
            const uint32_t m = mcf_sub_reg(0x00030003u);
            for (int32_t g = 0; g < groups; g += 2, xp += 4) {
                const uint32_t u = *w++;
                a0 = __smlad(u & m, xp[0], a0);
                a0 = __smlad(MCF_SUB_FIELD2(u, 8, m), xp[1], a0);
                a1 = __smlad(MCF_SUB_FIELD2(u, 2, m), xp[0], a1);
                a1 = __smlad(MCF_SUB_FIELD2(u, 10, m), xp[1], a1);
                a0 = __smlad(MCF_SUB_FIELD2(u, 4, m), xp[2], a0);
                a0 = __smlad(MCF_SUB_FIELD2(u, 12, m), xp[3], a0);
                a1 = __smlad(MCF_SUB_FIELD2(u, 6, m), xp[2], a1);
                a1 = __smlad(MCF_SUB_FIELD2(u, 14, m), xp[3], a1);
            }
        }
        out[c] = mcf_sub_fc_out(a0 - corr, b2[c], rq, c);
        if (c + 1 < out_c) {
            out[c + 1] = mcf_sub_fc_out(a1 - corr, b2[c + 1], rq, c + 1);
        }
    }
}

/* A fully connected layer: one row straight from flash (mcf_sub_fc_row), several rows as the 1x1
 * convolution over `rows` pixels of in_features channels. */
static inline void mcf_fully_connected_sub_dsp(const mcf_fully_connected_sub_args *a, const int8_t *in,
                                               int8_t *out, int32_t bits)
{
    if (a->rows == 1) {
        mcf_sub_fc_row((const uint32_t *)(const void *)a->weights, in, out, a->bias, &a->rq, a->in_features,
                       a->out_features, (int32_t *)a->scratch, bits);
        return;
    }
    const mcf_window w = mcf_fc_window(a->rows, a->in_features, a->out_features);
    mcf_sub_dsp_gemm(&w, in, out, a->weights, a->bias, &a->rq, a->scratch, a->block, bits, 0);
}

/*
 * Depthwise 3x3 (multiplier 1, dilation 1, the int8 DSP 3x3 kernel's shapes): the channels' taps,
 * 9 a channel and a small share of the work, are unpacked at the start into the scratch as that
 * kernel's doubled int16 rows (A = (2 w0, 2 w1), B = (2 w1, 2 w2) per kernel row) with its
 * {2 bias', m, rcz, e} constants, and mcf_depthwise_conv2d_s8_dsp3x3 (block = 4 planes) or
 * _dsp3x3_1 runs with its planes after them. Flash keeps the portable packed weights and the
 * 9-byte constants. lsh (the _dsp_lsh entries): a channel stored with e <= 0 shifts left by s = -e;
 * its taps are widened by 2^(s+1) instead of 2 (its bias is stored so), its e is 0 and rcz the
 * output zero point, and the int8 kernel's _lsh entries requantize it with one SMMLAR (DW3_RQ0).
 */
static inline void mcf_depthwise_sub_dsp(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits,
                                         int32_t lsh)
{
    const int32_t c_n = a->win.out_c;
    int32_t *q = (int32_t *)a->scratch;
    int16_t *taps = (int16_t *)(q + 4 * c_n);
    for (int32_t c = 0; c < c_n; ++c) {
        const int32_t e = a->rq.shift[c];
        const int32_t k = e > 0 ? 2 : 2 << -e;
        q[4 * c] = mcf_sub_bias(a->bias, a->bias16, c);
        q[4 * c + 1] = mcf_sub_mult(&a->rq, c);
        q[4 * c + 2] = e > 0 ? mcf_sub_rcz(e, a->rq.out_zp) : a->rq.out_zp;
        q[4 * c + 3] = e > 0 ? e : 0;
        for (int32_t r = 0; r < 3; ++r) {
            const int32_t w0 = k * mcf_wsub(a->weights, (size_t)c * 9 + 3 * r, bits);
            const int32_t w1 = k * mcf_wsub(a->weights, (size_t)c * 9 + 3 * r + 1, bits);
            const int32_t w2 = k * mcf_wsub(a->weights, (size_t)c * 9 + 3 * r + 2, bits);
            int16_t *t = taps + (size_t)c * 12 + 4 * r;
            t[0] = (int16_t)w0;
            t[1] = (int16_t)w1;
            t[2] = (int16_t)w1;
            t[3] = (int16_t)w2;
        }
    }
    mcf_conv2d_s8_args a8 = mcf_sub_int8_args(&a->win, a->groups, &a->rq, taps, q, taps + 12 * (size_t)c_n);
    if (lsh) {
        if (a->block == 4) {
            mcf_depthwise_conv2d_s8_dsp3x3_lsh(&a8, in, out);
        } else {
            mcf_depthwise_conv2d_s8_dsp3x3_lsh1(&a8, in, out);
        }
    } else if (a->block == 4) {
        mcf_depthwise_conv2d_s8_dsp3x3(&a8, in, out);
    } else {
        mcf_depthwise_conv2d_s8_dsp3x3_1(&a8, in, out);
    }
}

#endif /* __ARM_FEATURE_DSP */
#endif /* MCF_SUBBYTE_DSP_H */
