/*
 * int8 depthwise convolution (any depth multiplier, stride, dilation, padding) for cores with the
 * DSP extension (Cortex-M4, M7, M33).
 *
 * One input channel at a time is widened into an int16 plane with its padding (the zero point)
 * in the scratch buffer; neighbouring taps of a kernel row are then one 32-bit load, and SMLAD
 * multiplies two taps at once. 3x3 kernels with stride 1 or 2 compute four outputs of a row per
 * step with the weights of a kernel row in two registers.
 * Compile-time preparation (variants.py, dsp_depthwise): per output channel [k_h][ceil(k_w / 2)]
 * words of doubled int16 tap pairs (w[kx], w[kx + 1]), zero after the last tap; packed_quant as in
 * mcf_opt.h. Scratch: the plane, PH x PW int16 (PW includes two columns of margin).
 * mcf_depthwise_conv2d_s8_dsp2 (depth multiplier 1) widens two channels at a time (one 16-bit load
 * per pixel) into two planes (scratch 2 x PH x PW int16); an odd last channel alone.
 * Compiled a second time with MCF_DW_DSP_LSH (mcf_depthwise_conv2d_s8_dsp_lsh.c) as
 * mcf_depthwise_conv2d_s8_dsp_lsh / _dsp2_lsh, whose requantization also takes channels with
 * e = 0 (the sub-byte kernels' left-shift channels, mcf_subbyte_dsp_dw.h: the shift folded into the
 * taps and the bias, rcz = out_zp): y = SMMLAR(acc2, m, out_zp), one compare more per output.
 */
#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"

#ifndef MCF_DW_DSP_LSH
#define MCF_DW_DSP_LSH 0
#endif
#if MCF_DW_DSP_LSH
#define MCF_DW_FN(name) name##_lsh
#else
#define MCF_DW_FN(name) name
#endif

/* mcf_dsp_requant; with MCF_DW_DSP_LSH a channel with e = 0 as floor((acc2 m + 2^31) / 2^32) + rcz */
static inline int32_t dw_requant(int32_t acc2, int32_t m, int32_t rcz, int32_t e)
{
#if MCF_DW_DSP_LSH
    if (e == 0) {
        return mcf_smmlar(acc2, m, rcz);
    }
#endif
    return mcf_dsp_requant(acc2, m, rcz, e);
}

static inline int8_t requant_out(int32_t acc2, const int32_t *q, int32_t lo, int32_t hi)
{
    const int32_t y = __ssat(dw_requant(acc2, q[1], q[2], q[3]), 8);
    return (int8_t)MCF_CLAMP(y, lo, hi);
}

static inline int32_t rd_pair(const int16_t *p)
{
    return mcf_rd32(p);
}

/* One kernel row of four 3x3 outputs: stride 1 reads columns j .. j + 2 of output j (the pair
 * (x[j+2], x[j+3]) feeds output j with its bottom half and output j+1 with its top half). */
#define DW3_ROW_S1(row, w01, w2)                                   \
    do {                                                           \
        const int32_t x01 = rd_pair(row), x12 = rd_pair(row + 1);  \
        const int32_t x23 = rd_pair(row + 2), x34 = rd_pair(row + 3); \
        const int32_t x45 = rd_pair(row + 4);                      \
        a0 = __smlad(x01, w01, a0);                                \
        a0 = __smlabb(x23, w2, a0);                                \
        a1 = __smlad(x12, w01, a1);                                \
        a1 = __smlatb(x23, w2, a1);                                \
        a2 = __smlad(x23, w01, a2);                                \
        a2 = __smlabb(x45, w2, a2);                                \
        a3 = __smlad(x34, w01, a3);                                \
        a3 = __smlatb(x45, w2, a3);                                \
    } while (0)

#define DW3_ROW_S2(row, w01, w2)                                   \
    do {                                                           \
        const int32_t x01 = rd_pair(row), x23 = rd_pair(row + 2);  \
        const int32_t x45 = rd_pair(row + 4), x67 = rd_pair(row + 6); \
        const int32_t x89 = rd_pair(row + 8);                      \
        a0 = __smlad(x01, w01, a0);                                \
        a0 = __smlabb(x23, w2, a0);                                \
        a1 = __smlad(x23, w01, a1);                                \
        a1 = __smlabb(x45, w2, a1);                                \
        a2 = __smlad(x45, w01, a2);                                \
        a2 = __smlabb(x67, w2, a2);                                \
        a3 = __smlad(x67, w01, a3);                                \
        a3 = __smlabb(x89, w2, a3);                                \
    } while (0)

static inline int32_t fin(int32_t acc2, int32_t m, int32_t rcz, int32_t e, int32_t lo, int32_t hi, const int clamp)
{
    int32_t y = __ssat(dw_requant(acc2, m, rcz, e), 8);
    if (clamp) {
        y = MCF_CLAMP(y, lo, hi);
    }
    return y;
}

/* One kernel row of eight 3x3 outputs in one asm block (one x register: each pair is consumed by
 * the outputs that need it right after its load). S1: pairs at columns 0..8; S2: even columns
 * 0..16. OFF is the byte offset of the kernel row's two weight words. */
#define DW3_ROW8_S1(OFF)                                                                  \
    __asm__ volatile(                                                                     \
        "ldrd %[w01], %[w2], [%[wq], #" #OFF "]\n\t"                                      \
        "ldr %[x], [%[row]]\n\t"       "smlad %[a0], %[x], %[w01], %[a0]\n\t"             \
        "ldr %[x], [%[row], #2]\n\t"   "smlad %[a1], %[x], %[w01], %[a1]\n\t"             \
        "ldr %[x], [%[row], #4]\n\t"   "smlabb %[a0], %[x], %[w2], %[a0]\n\t"             \
        "smlatb %[a1], %[x], %[w2], %[a1]\n\t" "smlad %[a2], %[x], %[w01], %[a2]\n\t"     \
        "ldr %[x], [%[row], #6]\n\t"   "smlad %[a3], %[x], %[w01], %[a3]\n\t"             \
        "ldr %[x], [%[row], #8]\n\t"   "smlabb %[a2], %[x], %[w2], %[a2]\n\t"             \
        "smlatb %[a3], %[x], %[w2], %[a3]\n\t" "smlad %[a4], %[x], %[w01], %[a4]\n\t"     \
        "ldr %[x], [%[row], #10]\n\t"  "smlad %[a5], %[x], %[w01], %[a5]\n\t"             \
        "ldr %[x], [%[row], #12]\n\t"  "smlabb %[a4], %[x], %[w2], %[a4]\n\t"             \
        "smlatb %[a5], %[x], %[w2], %[a5]\n\t" "smlad %[a6], %[x], %[w01], %[a6]\n\t"     \
        "ldr %[x], [%[row], #14]\n\t"  "smlad %[a7], %[x], %[w01], %[a7]\n\t"             \
        "ldr %[x], [%[row], #16]\n\t"  "smlabb %[a6], %[x], %[w2], %[a6]\n\t"             \
        "smlatb %[a7], %[x], %[w2], %[a7]\n\t"                                            \
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4),      \
          [a5] "+r"(a5), [a6] "+r"(a6), [a7] "+r"(a7), [w01] "=&r"(w01), [w2] "=&r"(w2),  \
          [x] "=&r"(x)                                                                    \
        : [row] "r"(r), [wq] "r"(wq)                                                      \
        : "memory")

#define DW3_ROW8_S2(OFF)                                                                  \
    __asm__ volatile(                                                                     \
        "ldrd %[w01], %[w2], [%[wq], #" #OFF "]\n\t"                                      \
        "ldr %[x], [%[row]]\n\t"       "smlad %[a0], %[x], %[w01], %[a0]\n\t"             \
        "ldr %[x], [%[row], #4]\n\t"   "smlabb %[a0], %[x], %[w2], %[a0]\n\t"             \
        "smlad %[a1], %[x], %[w01], %[a1]\n\t"                                            \
        "ldr %[x], [%[row], #8]\n\t"   "smlabb %[a1], %[x], %[w2], %[a1]\n\t"             \
        "smlad %[a2], %[x], %[w01], %[a2]\n\t"                                            \
        "ldr %[x], [%[row], #12]\n\t"  "smlabb %[a2], %[x], %[w2], %[a2]\n\t"             \
        "smlad %[a3], %[x], %[w01], %[a3]\n\t"                                            \
        "ldr %[x], [%[row], #16]\n\t"  "smlabb %[a3], %[x], %[w2], %[a3]\n\t"             \
        "smlad %[a4], %[x], %[w01], %[a4]\n\t"                                            \
        "ldr %[x], [%[row], #20]\n\t"  "smlabb %[a4], %[x], %[w2], %[a4]\n\t"             \
        "smlad %[a5], %[x], %[w01], %[a5]\n\t"                                            \
        "ldr %[x], [%[row], #24]\n\t"  "smlabb %[a5], %[x], %[w2], %[a5]\n\t"             \
        "smlad %[a6], %[x], %[w01], %[a6]\n\t"                                            \
        "ldr %[x], [%[row], #28]\n\t"  "smlabb %[a6], %[x], %[w2], %[a6]\n\t"             \
        "smlad %[a7], %[x], %[w01], %[a7]\n\t"                                            \
        "ldr %[x], [%[row], #32]\n\t"  "smlabb %[a7], %[x], %[w2], %[a7]\n\t"             \
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4),      \
          [a5] "+r"(a5), [a6] "+r"(a6), [a7] "+r"(a7), [w01] "=&r"(w01), [w2] "=&r"(w2),  \
          [x] "=&r"(x)                                                                    \
        : [row] "r"(r), [wq] "r"(wq)                                                      \
        : "memory")

/* Eight outputs per step; returns the first output column not computed. */
static inline __attribute__((always_inline)) int32_t dw3_row8(const int16_t *row, int32_t pw, int32_t out_w,
                                                              int32_t oc_stride, const int32_t *wq, const int32_t *q,
                                                              int8_t *o, int32_t lo, int32_t hi, const int s2,
                                                              const int clamp)
{
    int32_t ox = 0;
    for (; ox + 8 <= out_w; ox += 8, row += s2 ? 16 : 8) {
        int32_t a0, a1, a2, a3, a4, a5, a6, a7, w01, w2, x;
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = q[0];
        const int16_t *r = row;
        if (s2) {
            DW3_ROW8_S2(0);
        } else {
            DW3_ROW8_S1(0);
        }
        r += pw;
        if (s2) {
            DW3_ROW8_S2(8);
        } else {
            DW3_ROW8_S1(8);
        }
        r += pw;
        if (s2) {
            DW3_ROW8_S2(16);
        } else {
            DW3_ROW8_S1(16);
        }
        const int32_t m = q[1], rcz = q[2], e = q[3];
        o[0] = (int8_t)fin(a0, m, rcz, e, lo, hi, clamp);
        o += oc_stride;
        o[0] = (int8_t)fin(a1, m, rcz, e, lo, hi, clamp);
        o += oc_stride;
        o[0] = (int8_t)fin(a2, m, rcz, e, lo, hi, clamp);
        o += oc_stride;
        o[0] = (int8_t)fin(a3, m, rcz, e, lo, hi, clamp);
        o += oc_stride;
        o[0] = (int8_t)fin(a4, m, rcz, e, lo, hi, clamp);
        o += oc_stride;
        o[0] = (int8_t)fin(a5, m, rcz, e, lo, hi, clamp);
        o += oc_stride;
        o[0] = (int8_t)fin(a6, m, rcz, e, lo, hi, clamp);
        o += oc_stride;
        o[0] = (int8_t)fin(a7, m, rcz, e, lo, hi, clamp);
        o += oc_stride;
    }
    return ox;
}

/* Outputs ox = 0, 4, 8, ... (blocks of four) of one output row of one channel; returns the first
 * output column it did not compute. */
static inline __attribute__((always_inline)) int32_t dw3_row(const int16_t *row, int32_t pw, int32_t out_w,
                                                             int32_t oc_stride, const int32_t *wq, const int32_t *q,
                                                             int8_t *o, int32_t lo, int32_t hi, const int s2,
                                                             const int clamp)
{
    const int32_t step = s2 ? 8 : 4;
    int32_t ox = 0;
    for (; ox + 4 <= out_w; ox += 4, row += step) {
        int32_t a0, a1, a2, a3, w01, w2;
        a0 = a1 = a2 = a3 = q[0];
        /* weights reloaded per kernel row (one LDRD) instead of holding six registers */
        __asm__ volatile("ldrd %0, %1, [%2]" : "=r"(w01), "=r"(w2) : "r"(wq) : "memory");
        if (s2) {
            DW3_ROW_S2(row, w01, w2);
        } else {
            DW3_ROW_S1(row, w01, w2);
        }
        __asm__ volatile("ldrd %0, %1, [%2, #8]" : "=r"(w01), "=r"(w2) : "r"(wq) : "memory");
        if (s2) {
            DW3_ROW_S2(row + pw, w01, w2);
        } else {
            DW3_ROW_S1(row + pw, w01, w2);
        }
        __asm__ volatile("ldrd %0, %1, [%2, #16]" : "=r"(w01), "=r"(w2) : "r"(wq) : "memory");
        if (s2) {
            DW3_ROW_S2(row + 2 * pw, w01, w2);
        } else {
            DW3_ROW_S1(row + 2 * pw, w01, w2);
        }
        {
            const int32_t m = q[1], rcz = q[2], e = q[3];
            o[0] = (int8_t)fin(a0, m, rcz, e, lo, hi, clamp);
            o[oc_stride] = (int8_t)fin(a1, m, rcz, e, lo, hi, clamp);
            o[2 * oc_stride] = (int8_t)fin(a2, m, rcz, e, lo, hi, clamp);
            o[3 * oc_stride] = (int8_t)fin(a3, m, rcz, e, lo, hi, clamp);
        }
        o += 4 * oc_stride;
    }
    return ox;
}

static int32_t __attribute__((noinline)) dw3_row_any(const int16_t *row, int32_t pw, int32_t out_w, int32_t oc_stride,
                                                     const int32_t *wq, const int32_t *q, int8_t *o, int32_t lo,
                                                     int32_t hi, int s2)
{
    const int clamp = lo > -128 || hi < 127;
    int32_t ox;
#if MCF_DW_DSP_LSH
    /* the eight-output assembly needs 13 registers, which GCC does not find beside the e = 0
     * branch ('impossible constraints'): four outputs a step */
    (void)clamp;
    if (s2) {
        return dw3_row(row, pw, out_w, oc_stride, wq, q, o, lo, hi, 1, 1);
    }
    return dw3_row(row, pw, out_w, oc_stride, wq, q, o, lo, hi, 0, 1);
#endif
    if (s2) {
        ox = clamp ? dw3_row8(row, pw, out_w, oc_stride, wq, q, o, lo, hi, 1, 1)
                   : dw3_row8(row, pw, out_w, oc_stride, wq, q, o, lo, hi, 1, 0);
    } else {
        ox = clamp ? dw3_row8(row, pw, out_w, oc_stride, wq, q, o, lo, hi, 0, 1)
                   : dw3_row8(row, pw, out_w, oc_stride, wq, q, o, lo, hi, 0, 0);
    }
    if (ox + 4 <= out_w) {
        const int32_t step = s2 ? 2 * ox : ox;
        ox += s2 ? dw3_row(row + step, pw, 4, oc_stride, wq, q, o + ox * oc_stride, lo, hi, 1, 1)
                 : dw3_row(row + step, pw, 4, oc_stride, wq, q, o + ox * oc_stride, lo, hi, 0, 1);
    }
    return ox;
}

/* Any kernel: one output. */
static inline int32_t dw_generic(const mcf_window *w, const int16_t *row, int32_t pw, const int32_t *wq,
                                 int32_t kp, int32_t acc)
{
    for (int32_t ky = 0; ky < w->k_h; ++ky, row += w->dil_h * pw, wq += kp) {
        if (w->dil_w == 1) {
            for (int32_t j = 0; j < kp; ++j) {
                acc = __smlad(rd_pair(row + 2 * j), wq[j], acc);
            }
        } else {
            for (int32_t j = 0; j < kp; ++j) {
                const int32_t lo = (uint16_t)row[2 * j * w->dil_w];
                const int32_t hi = 2 * j + 1 < w->k_w ? row[(2 * j + 1) * w->dil_w] : 0;
                acc = __smlad((int32_t)((uint32_t)lo | ((uint32_t)hi << 16)), wq[j], acc);
            }
        }
    }
    return acc;
}

/* All output rows of output channel oc from its input channel's plane. */
static void dw_channel(const mcf_conv2d_s8_args *a, const int16_t *plane, int32_t pw, int32_t oc, int8_t *out_n,
                       int fast3)
{
    const mcf_window *w = &a->win;
    const int32_t kp = (w->k_w + 1) >> 1;
    const int32_t lo = a->rq.act_min, hi = a->rq.act_max;
    const int32_t *wq = (const int32_t *)a->packed_weights + (size_t)oc * w->k_h * kp;
    const int32_t *q = a->packed_quant + 4 * oc;
    for (int32_t oy = 0; oy < w->out_h; ++oy) {
        const int16_t *row = plane + oy * w->stride_h * pw;
        int8_t *o = out_n + (size_t)oy * w->out_w * w->out_c + oc;
        int32_t ox = 0;
        if (fast3) {
            ox = dw3_row_any(row, pw, w->out_w, w->out_c, wq, q, o, lo, hi, w->stride_w == 2);
            o += ox * w->out_c;
        }
        for (; ox < w->out_w; ++ox) {
            const int32_t acc = dw_generic(w, row + ox * w->stride_w, pw, wq, kp, q[0]);
            *o = requant_out(acc, q, lo, hi);
            o += w->out_c;
        }
    }
}

/* (lo & 0xFFFF) | (hi << 16) in one instruction */
static inline int32_t pkhbt16(int32_t lo, int32_t hi)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

/* Widens input channel ic (all rows inside the plane) into the plane's interior. */
static void widen1(const mcf_window *w, const int8_t *in_n, int16_t *plane, int32_t pw, int32_t ic, int32_t y_lo,
                   int32_t y_hi, int32_t x_lo, int32_t x_hi)
{
    for (int32_t iy = y_lo; iy < y_hi; ++iy) {
        const int8_t *src = in_n + ((size_t)iy * w->in_w + x_lo) * w->in_c + ic;
        int16_t *dst = plane + (iy + w->pad_top) * pw + x_lo + w->pad_left;
        const int32_t cnt = x_hi - x_lo;
        const int32_t stride = w->in_c;
        int32_t i = 0;
        /* two sign-extended bytes -> one PKHBT -> one 32-bit store */
        for (; i + 4 <= cnt; i += 4, src += 4 * stride, dst += 4) {
            const int32_t v0 = src[0], v1 = src[stride], v2 = src[2 * stride], v3 = src[3 * stride];
            mcf_wr32(dst, pkhbt16(v0, v1));
            mcf_wr32(dst + 2, pkhbt16(v2, v3));
        }
        for (; i < cnt; ++i, src += stride) {
            *dst++ = *src;
        }
    }
}

/* Widens input channels ic and ic + 1 into two planes (the second at p0 + psz): the two bytes of
 * two neighbouring pixels (two 16-bit loads, one PKHBT) are split by SXTB16 / SXTB16 ROR 8 into one
 * 32-bit store per plane. */
static void widen2(const mcf_window *w, const int8_t *in_n, int16_t *p0, int32_t psz, int32_t pw, int32_t ic,
                   int32_t y_lo, int32_t y_hi, int32_t x_lo, int32_t x_hi)
{
    const int32_t stride = w->in_c;
    const int32_t cnt = x_hi - x_lo;
    for (int32_t iy = y_lo; iy < y_hi; ++iy) {
        const int8_t *src = in_n + ((size_t)iy * w->in_w + x_lo) * w->in_c + ic;
        int16_t *d0 = p0 + (iy + w->pad_top) * pw + x_lo + w->pad_left;
        int16_t *d1 = d0 + psz;
        int32_t i = 0;
        for (; i + 2 <= cnt; i += 2, src += 2 * stride, d0 += 2, d1 += 2) {
            uint16_t h0, h1;
            memcpy(&h0, src, 2);
            memcpy(&h1, src + stride, 2);
            const uint32_t x = (uint32_t)pkhbt16(h0, h1);     /* bytes: c0, c1 of pixel i, then of i + 1 */
            mcf_wr32(d0, (int32_t)__sxtb16(x));
            mcf_wr32(d1, (int32_t)mcf_sxtb16_ror8(x));
        }
        if (i < cnt) {
            *d0 = src[0];
            *d1 = src[1];
        }
    }
}

static void dw_run(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out, int32_t nplanes)
{
    const mcf_window *w = &a->win;
    const int32_t mult = w->out_c / w->in_c;
    const int32_t ph = (w->out_h - 1) * w->stride_h + (w->k_h - 1) * w->dil_h + 1;
    const int32_t pw = (w->out_w - 1) * w->stride_w + (w->k_w - 1) * w->dil_w + 1 + 2;
    const int32_t psz = ph * pw;
    const int fast3 = w->k_h == 3 && w->k_w == 3 && w->dil_h == 1 && w->dil_w == 1 &&
                      (w->stride_w == 1 || w->stride_w == 2);
    int16_t *plane = (int16_t *)a->scratch;
    /* input rows / columns that land inside the plane */
    const int32_t y_lo = MCF_MAX(0, -w->pad_top), y_hi = MCF_MIN(w->in_h, ph - w->pad_top);
    const int32_t x_lo = MCF_MAX(0, -w->pad_left), x_hi = MCF_MIN(w->in_w, pw - w->pad_left);
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        int8_t *out_n = out + (size_t)n * w->out_h * w->out_w * w->out_c;
        /* the padding (zero point) stays in place; the interior is rewritten for every channel */
        const int16_t zp = (int16_t)a->rq.in_zp;
        for (int32_t i = 0; i < nplanes * psz; ++i) {
            plane[i] = zp;
        }
        int32_t ic = 0;
        if (nplanes == 2) {   /* depth multiplier 1 */
            for (; ic + 2 <= w->in_c; ic += 2) {
                widen2(w, in_n, plane, psz, pw, ic, y_lo, y_hi, x_lo, x_hi);
                dw_channel(a, plane, pw, ic, out_n, fast3);
                dw_channel(a, plane + psz, pw, ic + 1, out_n, fast3);
            }
        }
        for (; ic < w->in_c; ++ic) {
            widen1(w, in_n, plane, pw, ic, y_lo, y_hi, x_lo, x_hi);
            for (int32_t m = 0; m < mult; ++m) {
                dw_channel(a, plane, pw, ic * mult + m, out_n, fast3);
            }
        }
    }
}

void MCF_DW_FN(mcf_depthwise_conv2d_s8_dsp)(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    dw_run(a, in, out, 1);
}

/* Depth multiplier 1: two channels widened at a time into two planes (scratch 2 PH x PW int16). */
void MCF_DW_FN(mcf_depthwise_conv2d_s8_dsp2)(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    dw_run(a, in, out, 2);
}
