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
 * Flash keeps the portable packed weights (mcf_subbyte.h; 2-bit ternary fields) and 9 bytes of
 * constants a channel: `bias` = 2 bias' (2^(s+1) bias' for a left-shift channel), the Q31
 * multiplier, the int8 exponent e = -shift (codegen/c/variants/dsp_subbyte.py: dsp_sub_quant /
 * dsp_sub_quant_lsh). Scratch: the constants (16 bytes a channel), the taps, the planes.
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
 * stored with e <= 0 (lsh layers only) gets e = 0 and rcz = out_zp. */
static void mcf_dw_sub_quant(const mcf_conv2d_sub_args *a, int32_t *q)
{
    for (int32_t c = 0; c < a->win.out_c; ++c, q += 4) {
        const int32_t e = a->rq.shift[c];
        q[0] = mcf_sub_bias(a->bias, a->bias16, c);
        q[1] = mcf_sub_mult(&a->rq, c);
        q[2] = e > 0 ? mcf_sub_rcz(e, a->rq.out_zp) : a->rq.out_zp;
        q[3] = e > 0 ? e : 0;
    }
}

/* The factor of channel c's unpacked taps: 2 (the int8 kernel's doubling), 2^(s+1) for a channel
 * stored with e = -s <= 0. */
static inline int32_t mcf_dw_sub_factor(const mcf_conv2d_sub_args *a, int32_t c)
{
    const int32_t e = a->rq.shift[c];
    return e > 0 ? 2 : 2 << -e;
}

/* The n first packed fields of the layer as int16 at dst, a 32-bit word (8 int4 / 16 ternary
 * fields) at a time with constant-position bit-field extracts (SBFX), the last ones by mcf_wsub.
 * About 2 instructions a field instead of mcf_wsub's 6-8 per field with a variable index. */
static void mcf_dw_sub_flat(const uint8_t *w, int16_t *dst, int32_t n, int32_t bits)
{
    int32_t i = 0;
    if (bits == 4) {
        for (; i + 8 <= n; i += 8, dst += 8) {
            const int32_t u = mcf_rd32(w + (i >> 1));
            dst[0] = (int16_t)((int32_t)((uint32_t)u << 28) >> 28);
            dst[1] = (int16_t)((int32_t)((uint32_t)u << 24) >> 28);
            dst[2] = (int16_t)((int32_t)((uint32_t)u << 20) >> 28);
            dst[3] = (int16_t)((int32_t)((uint32_t)u << 16) >> 28);
            dst[4] = (int16_t)((int32_t)((uint32_t)u << 12) >> 28);
            dst[5] = (int16_t)((int32_t)((uint32_t)u << 8) >> 28);
            dst[6] = (int16_t)((int32_t)((uint32_t)u << 4) >> 28);
            dst[7] = (int16_t)(u >> 28);
        }
    } else {
        for (; i + 16 <= n; i += 16, dst += 16) {
            const int32_t u = mcf_rd32(w + (i >> 2));
            for (int32_t j = 0; j < 16; ++j) {          /* unrolled by GCC: one SBFX a field */
                dst[j] = (int16_t)((int32_t)((uint32_t)u << (30 - 2 * j)) >> 30);
            }
        }
    }
    for (; i < n; ++i) {
        *dst++ = (int16_t)mcf_wsub(w, (size_t)i, bits);
    }
}

/* `words` words of doubled tap pairs from the stream of variants/dsp_subbyte_dw.py: dsp_gen_layout
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

/*
 * Depthwise 3x3 (multiplier 1, dilation 1, the int8 DSP 3x3 kernel's shapes): the taps as that
 * kernel's doubled int16 rows (A = (2 w0, 2 w1), B = (2 w1, 2 w2) per kernel row); block = 4 or 1
 * planes.
 */
static inline void mcf_depthwise_sub_dsp(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits,
                                         int32_t lsh)
{
    const int32_t c_n = a->win.out_c;
    int32_t *q = (int32_t *)a->scratch;
    int16_t *taps = (int16_t *)(q + 4 * c_n);
    /* the fields first flat at the end of the taps' space (9 of 12 halfwords a channel), then
     * spread forwards: a row's 4 halfwords are written after its 3 fields are read, and never
     * reach a field not read yet (12 c + 4 r + 3 < 3 c_n + 9 c + 3 r + 3 for c < c_n, r < 3) */
    const int16_t *f = taps + 3 * (size_t)c_n;
    mcf_dw_sub_quant(a, q);
    mcf_dw_sub_flat(a->weights, taps + 3 * (size_t)c_n, 9 * c_n, bits);
    int16_t *t = taps;
    for (int32_t c = 0; c < c_n; ++c) {
        const int32_t k = mcf_dw_sub_factor(a, c);
        for (int32_t r = 0; r < 3; ++r, f += 3, t += 4) {
            const int32_t w0 = k * f[0], w1 = k * f[1], w2 = k * f[2];
            t[0] = (int16_t)w0;
            t[1] = (int16_t)w1;
            t[2] = (int16_t)w1;
            t[3] = (int16_t)w2;
        }
    }
    const mcf_conv2d_s8_args a8 = mcf_sub_int8_args(&a->win, a->groups, &a->rq, taps, q, taps + 12 * (size_t)c_n);
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
        for (int32_t c = 0; c < c_n; ++c) {
            const int32_t s = -a->rq.shift[c];
            uint32_t *p = (uint32_t *)taps + (size_t)c * ch_words;
            for (int32_t i = 0; s > 0 && i < ch_words; ++i) {
                uint32_t v = p[i];
                for (int32_t k = 0; k < s; ++k) {
                    v = __sadd16(v, v);         /* 2^(s+1) w: |.| < 2^15 (_lsh_ok) */
                }
                p[i] = v;
            }
        }
    }
    const mcf_conv2d_s8_args a8 = mcf_sub_int8_args(w, a->groups, &a->rq, taps, q, planes);
    const mcf_dw_s8_fn run = a->block == 2 ? (lsh ? mcf_depthwise_conv2d_s8_dsp2_lsh : mcf_depthwise_conv2d_s8_dsp2)
                                           : (lsh ? mcf_depthwise_conv2d_s8_dsp_lsh : mcf_depthwise_conv2d_s8_dsp);
    run(&a8, in, out);
}

#endif /* __ARM_FEATURE_DSP */
#endif /* MCF_SUBBYTE_DSP_DW_H */
