/*
 * mcf_subbyte_dsp_dw.h - depthwise convolution with int4 / ternary weights on the DSP extension
 * (Cortex-M4 / M7 / M33), instantiated per width by mcf_depthwise_conv2d_s8_w{4,2}_dsp{,_lsh}.c
 * (3x3, multiplier 1, dilation 1) and mcf_depthwise_conv2d_s8_w{4,2}_dsp_gen{,_lsh}.c (any
 * kernel, stride, dilation, padding and depth multiplier).
 *
 * The pattern of the sub-byte kernels (docs/subbyte.md, Kernels): the channels' taps, k_h k_w a
 * channel and a small share of the work (the int8 kernel does out_h out_w of them per tap), are
 * unpacked once per call into the scratch in exactly the layout the int8 DSP depthwise kernel
 * reads, with its {2 bias', m, rcz, e} constants, and that kernel runs the layer:
 *   3x3:   doubled int16 rows A = (2 w0, 2 w1), B = (2 w1, 2 w2) per kernel row, then
 *          mcf_depthwise_conv2d_s8_dsp3x3 (block = 4 planes) or _dsp3x3_1;
 *   other: per output channel [k_h][ceil(k_w / 2)] words of doubled int16 tap pairs
 *          (2 w[kx], 2 w[kx + 1]), zero after the last tap, then mcf_depthwise_conv2d_s8_dsp2
 *          (block = 2 planes, depth multiplier 1) or mcf_depthwise_conv2d_s8_dsp (one plane).
 * Flash: the taps in offset binary, permuted so that the convolution's assembly unpacking loops
 * (mcf_subbyte_dsp.h: mcf_sub_unpack4_words / _unpack2_words, SSUB8 + SXTB16: 1.25 instructions a
 * tap) give the doubled int16 pairs (variants/dsp_subbyte_dw.py: dsp_gen_layout, general kernel;
 * dsp_dw3_layout, 3x3: two kernel rows as three words, which two PKHs a row pair turn into the four
 * A / B words, mcf_dw3_sub_spread, 0.67 instructions a tap), the portable packing's bytes once word
 * aligned; and 9 bytes of constants a channel: `bias` = 2 bias' (2^(s+1) bias' for a left-shift
 * channel), the Q31 multiplier, the int8 exponent e = -shift (codegen/c/variants/dsp_subbyte.py:
 * dsp_sub_quant / dsp_sub_quant_lsh). Scratch: the constants (16 bytes a channel), the taps, the
 * planes.
 * lsh (the _lsh entries): a channel stored with e <= 0 shifts left by s = -e; its taps are widened
 * by 2^(s+1) instead of 2, its e is 0 and rcz the output zero point, and the int8 kernel's _lsh
 * entries requantize it with one SMMLAR: floor((A m + 2^31) / 2^32) + out_zp = TFLite's
 * SRDHM(2^s x, m) (DW3_RQ0 in mcf_depthwise_conv2d_s8_dsp3x3.c, MCF_DW_DSP_LSH in
 * mcf_depthwise_conv2d_s8_dsp.c).
 */
#ifndef MCF_SUBBYTE_DSP_DW_H
#define MCF_SUBBYTE_DSP_DW_H

#include "mcf_subbyte_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

/* an int8 depthwise kernel that runs the unpacked taps */
typedef void (*mcf_dw_s8_fn)(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);

/* The int8 kernels' {2 bias', m, rcz, e} of every channel into q; returns nothing. A channel
 * stored with e <= 0 (lsh layers only) gets e = 0 and rcz = out_zp. The compact constants (int16
 * biases and uint16 multipliers, codegen/c/layers/subbyte.py: compact_constants) in a loop of their
 * own, whose choice is made once, not per channel (about 16 instructions a channel instead of 24). */
static inline void mcf_dw_sub_quant1(int32_t *q, int32_t b, int32_t m, int32_t e, int32_t zp)
{
    q[0] = b;
    q[1] = m;
    q[2] = e > 0 ? mcf_sub_rcz(e, zp) : zp;
    q[3] = e > 0 ? e : 0;
}

static void mcf_dw_sub_quant(const mcf_conv2d_sub_args *a, int32_t *q)
{
    const int32_t c_n = a->win.out_c, zp = a->rq.out_zp;
    const int8_t *sh = a->rq.shift;
    const int16_t *b16 = a->bias16;
    const uint16_t *m16 = a->rq.mult16;
    if (b16 && m16) {
        for (int32_t c = 0; c < c_n; ++c, q += 4) {
            mcf_dw_sub_quant1(q, b16[c], (int32_t)((uint32_t)m16[c] << 15), sh[c], zp);
        }
        return;
    }
    for (int32_t c = 0; c < c_n; ++c, q += 4) {
        mcf_dw_sub_quant1(q, mcf_sub_bias(a->bias, b16, c), mcf_sub_mult(&a->rq, c), sh[c], zp);
    }
}

/* `words` words of doubled tap pairs from the stream of variants/dsp_subbyte_dw.py: halfword_words
 * (offset-binary fields, bytes permuted so that SXTB16 / SXTB16 ROR 8 of one SSUB8 give two pair
 * words): the convolution's assembly loops (mcf_subbyte_dsp.h: mcf_sub_unpack4_words /
 * _unpack2_words, 1.25 instructions a weight) read it as it stands, int4 4 words a flash word,
 * ternary 8; the last one is written whole (up to 7 words past `words`: the scratch has room). */
static inline void mcf_dw_sub_gen_unpack(const uint32_t *src, int32_t *dst, int32_t words, int32_t bits)
{
    if (words > 0) {
        (bits == 4 ? mcf_sub_unpack4_words : mcf_sub_unpack2_words)(src, dst, bits == 4 ? (words + 3) >> 2
                                                                                          : (words + 7) >> 3);
    }
}

/* lsh: the unpacked doubled taps (`words` words a channel) of the channels stored with e = -s < 0
 * times 2^s (SADD16 doubles both halfwords; |2^(s+1) w| < 2^15, variants/dsp_subbyte.py: _lsh_ok). */
static void mcf_dw_sub_scale_left(int32_t *taps, const int8_t *shift, int32_t c_n, int32_t words)
{
    for (int32_t c = 0; c < c_n; ++c) {
        const int32_t s = -shift[c];
        uint32_t *p = (uint32_t *)taps + (size_t)c * words;
        for (int32_t i = 0; s > 0 && i < words; ++i) {
            uint32_t v = p[i];
            for (int32_t k = 0; k < s; ++k) {
                v = __sadd16(v, v);
            }
            p[i] = v;
        }
    }
}

/*
 * The 3x3 kernel's rows from the unpacked stream of dsp_dw3_layout: n row pairs, each three words
 * a = (2 Q0, 2 Q1), x = (2 P0, 2 Q2), b = (2 P1, 2 P2) at src -> four words A_Q = a,
 * B_Q = PKHTB(x, a, ASR 16) = (2 Q1, 2 Q2), A_P = PKHBT(x, b, LSL 16) = (2 P0, 2 P1), B_P = b at dst,
 * two pairs a pass (LDM of six words, four PKHs, STM of eight): 8 instructions per 12 taps. In place
 * with src = dst + n (words): a pass writes its eight words only over words already read.
 */
MCF_SUB_WORDS_FN(mcf_dw3_sub_spread_words,
                 "subs r2, r2, #2\n\t"
                 "blt 2f\n\t"
                 "1:\n\t"
                 "ldmia r0!, {r3, r4, r6, r8, r9, r11}\n\t"
                 "pkhbt r5, r4, r6, lsl #16\n\t"
                 "pkhtb r4, r4, r3, asr #16\n\t"
                 "pkhbt r10, r9, r11, lsl #16\n\t"
                 "pkhtb r9, r9, r8, asr #16\n\t"
                 "stmia r1!, {r3-r6, r8-r11}\n\t"
                 "subs r2, r2, #2\n\t"
                 "bge 1b\n\t"
                 "2:\n\t"
                 "adds r2, r2, #2\n\t"
                 "beq 3f\n\t"
                 "ldmia r0!, {r3, r4, r6}\n\t"
                 "pkhbt r5, r4, r6, lsl #16\n\t"
                 "pkhtb r4, r4, r3, asr #16\n\t"
                 "stmia r1!, {r3-r6}\n\t"
                 "3:\n\t")

/* All 3 C rows: the pairs, then a last unpaired row (C odd: a, x = (0, 2 Q2)). */
static inline void mcf_dw3_sub_spread(int32_t *taps, int32_t rows)
{
    const int32_t pairs = rows >> 1;
    const int32_t *src = taps + pairs;
    mcf_dw3_sub_spread_words((const uint32_t *)src, taps, pairs);
    if (rows & 1) {
        const uint32_t a = (uint32_t)src[3 * pairs], x = (uint32_t)src[3 * pairs + 1];
        taps[2 * rows - 2] = (int32_t)a;
        taps[2 * rows - 1] = (int32_t)((x & 0xFFFF0000u) | (a >> 16));
    }
}

/*
 * Depthwise 3x3 (multiplier 1, dilation 1, the int8 DSP 3x3 kernel's shapes): the taps as that
 * kernel's doubled int16 rows (A = (2 w0, 2 w1), B = (2 w1, 2 w2) per kernel row); block = 4 or 1
 * planes.
 */
static inline void mcf_depthwise_sub_dsp(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits,
                                         int32_t lsh)
{
    const int32_t c_n = a->win.out_c, rows = 3 * c_n;
    int32_t *q = (int32_t *)a->scratch;
    int32_t *taps = q + 4 * c_n;
    mcf_dw_sub_quant(a, q);
    /* the stream at the end of the taps' 6 C words (from word rows / 2), 3 words a row pair (2 the
     * last unpaired row); its last flash word's group may run into the planes, filled later */
    mcf_dw_sub_gen_unpack((const uint32_t *)(const void *)a->weights, taps + (rows >> 1), 3 * (rows >> 1) + 2 * (rows & 1),
                          bits);
    mcf_dw3_sub_spread(taps, rows);
    if (lsh) {
        mcf_dw_sub_scale_left(taps, a->rq.shift, c_n, 6);
    }
    const mcf_conv2d_s8_args a8 = mcf_sub_int8_args(&a->win, a->groups, &a->rq, taps, q, taps + 6 * (size_t)c_n);
    const mcf_dw_s8_fn run = a->block == 4 ? (lsh ? mcf_depthwise_conv2d_s8_dsp3x3_lsh : mcf_depthwise_conv2d_s8_dsp3x3)
                                           : (lsh ? mcf_depthwise_conv2d_s8_dsp3x3_lsh1 : mcf_depthwise_conv2d_s8_dsp3x3_1);
    run(&a8, in, out);
}

/*
 * Any depthwise layer (kernel, stride, dilation, padding, depth multiplier): the taps as the int8
 * general DSP kernel's [out_c][k_h][ceil(k_w / 2)] words of tap pairs (doubled, zero after the last
 * tap; mcf_depthwise_conv2d_s8_dsp.c); block = 2 planes (mcf_depthwise_conv2d_s8_dsp2, depth
 * multiplier 1) or 1. The packed fields are read in order, channel after channel.
 */
static inline void mcf_depthwise_sub_dsp_gen(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out,
                                             int32_t bits, int32_t lsh)
{
    const mcf_window *w = &a->win;
    const int32_t c_n = w->out_c, kw = w->k_w, kp = (kw + 1) >> 1;
    const int32_t ch_words = w->k_h * kp;                   /* tap-pair words a channel */
    int32_t *q = (int32_t *)a->scratch;
    int32_t *taps = q + 4 * c_n;
    int32_t *const planes = taps + (size_t)c_n * ch_words + 7;     /* past the unpacking's last group */
    mcf_dw_sub_quant(a, q);
    mcf_dw_sub_gen_unpack((const uint32_t *)(const void *)a->weights, taps, c_n * ch_words, bits);
    if (lsh) {
        mcf_dw_sub_scale_left(taps, a->rq.shift, c_n, ch_words);
    }
    const mcf_conv2d_s8_args a8 = mcf_sub_int8_args(w, a->groups, &a->rq, taps, q, planes);
    const mcf_dw_s8_fn run = a->block == 2 ? (lsh ? mcf_depthwise_conv2d_s8_dsp2_lsh : mcf_depthwise_conv2d_s8_dsp2)
                                           : (lsh ? mcf_depthwise_conv2d_s8_dsp_lsh : mcf_depthwise_conv2d_s8_dsp);
    run(&a8, in, out);
}

#endif /* __ARM_FEATURE_DSP */
#endif /* MCF_SUBBYTE_DSP_DW_H */
