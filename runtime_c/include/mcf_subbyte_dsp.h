/*
 * mcf_subbyte_dsp.h - convolution (groups 1) and fully connected layers with int4 / ternary
 * weights on the DSP extension (Cortex-M4 / M7 / M33), instantiated per width by
 * mcf_conv2d_s8_w4_dsp.c, ..._w2_dsp.c, mcf_fully_connected_s8_w4_dsp.c, ..._w2_dsp.c.
 *
 * Four output pixels at a time are gathered as int16 (x - in_zp) into the scratch buffer (four
 * patches of K values, zero-padded to Kp, a multiple of the 32 / bits weights of one word, their
 * input pairs interleaved); then each output channel runs over them with SMLAD, so one unpacked
 * weight pair serves four pixels.
 *
 * Weight words (compile time, codegen/c/variants/dsp_subbyte.py): per channel, Kp / (32 / bits)
 * words; in a word, the input pair j = 2 f + r (f: field of a byte, 0 = low, r: 0 or 1) has its
 * weights w[2j] in byte r and w[2j+1] in byte r + 2, field f. Unpacking a field of all four bytes:
 *   m = (word << (8 - bits (f + 1))) & top    (one AND with a shifted operand; top = the bytes'
 *                                              high `bits` bits: 0xF0F0F0F0 or 0xC0C0C0C0)
 *   SXTB16(m)       = (w[2j], w[2j+1]) * 2^(8 - bits)      for j = 2 f
 *   SXTB16(m ror 8) = the same for j = 2 f + 1
 * so every weight arrives scaled by 2^(8 - bits) (16 for int4, 64 for ternary), and the sum is
 * shifted back once per output: exact, since every product is a multiple of that power.
 * Bound (checked at compile time): 2^(8 - bits) * 255 * sum |w| < 2^31.
 */
#ifndef MCF_SUBBYTE_DSP_H
#define MCF_SUBBYTE_DSP_H

#include "mcf_arith.h"
#include "mcf_fc_as_conv.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"
#include "mcf_subbyte.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

static inline int32_t mcf_sub_kp(int32_t k, int32_t bits)
{
    const int32_t per = 32 / bits;
    return (k + per - 1) / per * per;
}

/* One pixel's patch as int16 (x - zp) into lane `lane` of `lanes` interleaved patches: value k at
 * dst[(k / 2) * 2 * lanes + 2 * lane + k % 2] (input pair k / 2 of every pixel in consecutive
 * words); padding 0, the tail up to kp 0. */
static inline void mcf_sub_im2col(const mcf_window *w, const int8_t *in, int32_t pix, int32_t zp,
                                  int16_t *dst, int32_t kp, int32_t lane, int32_t lanes)
{
    const int32_t per_img = w->out_h * w->out_w;
    const int32_t n = pix / per_img;
    const int32_t oy = (pix % per_img) / w->out_w;
    const int32_t ox = pix % w->out_w;
    const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
    const int32_t iy0 = oy * w->stride_h - w->pad_top;
    const int32_t ix0 = ox * w->stride_w - w->pad_left;
    int16_t *d = dst + 2 * lane;
    const int32_t jump = 2 * lanes - 1;     /* from the second value of a pair to the next pair */
    const uint32_t zp2 = (uint32_t)(uint16_t)zp * 0x00010001u;
    int32_t odd = 0;
    for (int32_t ky = 0; ky < w->k_h; ++ky) {
        const int32_t iy = iy0 + ky * w->dil_h;
        for (int32_t kx = 0; kx < w->k_w; ++kx) {
            const int32_t ix = ix0 + kx * w->dil_w;
            if (iy < 0 || iy >= w->in_h || ix < 0 || ix >= w->in_w) {
                for (int32_t c = 0; c < w->in_c; ++c) {
                    *d = 0;
                    d += odd ? jump : 1;
                    odd ^= 1;
                }
                continue;
            }
            const int8_t *px = in_n + ((size_t)iy * w->in_w + ix) * w->in_c;
            const int8_t *pe = px + w->in_c;
            if (odd && px < pe) {
                *d = (int16_t)(*px++ - zp);
                d += jump;
                odd = 0;
            }
            for (; px + 3 < pe; px += 4) {     /* four values: SXTB16, SSUB16, repacked into two pairs */
                const uint32_t v = (uint32_t)mcf_rd32(px);
                const uint32_t even = __ssub16(__sxtb16(v), zp2);          /* x0, x2 */
                const uint32_t odd2 = __ssub16(mcf_sxtb16_ror8(v), zp2);   /* x1, x3 */
                mcf_wr32(d, (int32_t)((even & 0xFFFFu) | (odd2 << 16)));
                mcf_wr32(d + 2 * lanes, (int32_t)((odd2 & 0xFFFF0000u) | (even >> 16)));
                d += 4 * lanes;
            }
            for (; px + 1 < pe; px += 2) {     /* whole pairs */
                d[0] = (int16_t)(px[0] - zp);
                d[1] = (int16_t)(px[1] - zp);
                d += 2 * lanes;
            }
            if (px < pe) {
                *d++ = (int16_t)(*px - zp);
                odd = 1;
            }
        }
    }
    for (int32_t k = w->k_h * w->k_w * w->in_c; k < kp; ++k) {
        *d = 0;
        d += odd ? jump : 1;
        odd ^= 1;
    }
}

#define MCF_SUB_FIELD(u, f, bits) (((u) << (8 - (bits) * ((f) + 1))) & ((bits) == 4 ? 0xF0F0F0F0u : 0xC0C0C0C0u))

/* acc += p . x[0..3] for the four interleaved pixels */
#define MCF_SUB_MAC4(p, x)                                 \
    do {                                                   \
        a0 = __smlad((p), (uint32_t)(x)[0], a0);           \
        a1 = __smlad((p), (uint32_t)(x)[1], a1);           \
        a2 = __smlad((p), (uint32_t)(x)[2], a2);           \
        a3 = __smlad((p), (uint32_t)(x)[3], a3);           \
    } while (0)

#define MCF_SUB_STEP4(u, f, bits, x)                       \
    do {                                                   \
        const uint32_t m_ = MCF_SUB_FIELD(u, f, bits);     \
        MCF_SUB_MAC4(__sxtb16(m_), (x) + 8 * (f));         \
        MCF_SUB_MAC4(mcf_sxtb16_ror8(m_), (x) + 8 * (f) + 4); \
    } while (0)

/* acc[0..3] = one channel's weights . four interleaved patches x (kp values each). Not inlined:
 * on its own the loop keeps its 12 live values in registers (inlined, GCC spilled some). */
static __attribute__((noinline)) void mcf_sub_dot1x4(const uint32_t *wr, const int32_t *x, int32_t kp, int32_t bits, int32_t acc[4])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const uint32_t *end = wr + kp * bits / 32;
    if (bits == 4) {
        while (wr < end) {
            const uint32_t u = *wr++;
            MCF_SUB_STEP4(u, 0, 4, x);
            MCF_SUB_STEP4(u, 1, 4, x);
            x += 16;
        }
    } else {
        while (wr < end) {
            const uint32_t u = *wr++;
            MCF_SUB_STEP4(u, 0, 2, x);
            MCF_SUB_STEP4(u, 1, 2, x);
            MCF_SUB_STEP4(u, 2, 2, x);
            MCF_SUB_STEP4(u, 3, 2, x);
            x += 32;
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#define MCF_SUB_STEP1(u, f, bits, x)                                        \
    do {                                                                    \
        const uint32_t m_ = MCF_SUB_FIELD(u, f, bits);                      \
        a0 = __smlad(__sxtb16(m_), (uint32_t)(x)[2 * (f)], a0);             \
        a1 = __smlad(mcf_sxtb16_ror8(m_), (uint32_t)(x)[2 * (f) + 1], a1);  \
    } while (0)

/* One channel's weights . one patch x. */
static __attribute__((noinline)) int32_t mcf_sub_dot1x1(const uint32_t *wr, const int32_t *x, int32_t kp, int32_t bits)
{
    int32_t a0 = 0, a1 = 0;
    const uint32_t *end = wr + kp * bits / 32;
    if (bits == 4) {
        while (wr < end) {
            const uint32_t u = *wr++;
            MCF_SUB_STEP1(u, 0, 4, x);
            MCF_SUB_STEP1(u, 1, 4, x);
            x += 4;
        }
    } else {
        while (wr < end) {
            const uint32_t u = *wr++;
            MCF_SUB_STEP1(u, 0, 2, x);
            MCF_SUB_STEP1(u, 1, 2, x);
            MCF_SUB_STEP1(u, 2, 2, x);
            MCF_SUB_STEP1(u, 3, 2, x);
            x += 8;
        }
    }
    return a0 + a1;
}

/* Requantization of channel c (mcf_opt.h's mcf_dsp_requant; its preconditions are checked at
 * compile time: |acc| < 2^30, multiplier >= 0, 1 <= -shift <= 22). */
typedef struct {
    int32_t b2, m, rcz, e;
} mcf_sub_chan;

static inline mcf_sub_chan mcf_sub_chan_of(const mcf_requant_sub *rq, const int32_t *bias, int32_t c)
{
    mcf_sub_chan q;
    q.e = -rq->shift[c];
    q.m = rq->mult[c];
    q.b2 = bias ? 2 * bias[c] : 0;
    q.rcz = (int32_t)((1u << (q.e - 1)) + ((uint32_t)rq->out_zp << q.e));
    return q;
}

static inline int8_t mcf_sub_dsp_out(const mcf_requant_sub *rq, const mcf_sub_chan *q, int32_t acc_scaled,
                                     int32_t bits)
{
    const int32_t y = mcf_dsp_requant((acc_scaled >> (7 - bits)) + q->b2, q->m, q->rcz, q->e);
    return mcf_sat_s8(y, rq->act_min, rq->act_max);
}

/* The GEMM over `pixels` patches: out[p][c] for every pixel p and output channel c. Four pixels
 * at a time (a short last group repeats its last pixel and stores only the real ones), a single
 * pixel (a fully connected layer's one row) on its own. */
static inline void mcf_sub_dsp_gemm(const mcf_window *win, const int8_t *in, int8_t *out, int32_t pixels,
                                    int32_t out_c, int32_t k, const uint8_t *weights, const int32_t *bias,
                                    const mcf_requant_sub *rq, void *scratch, int32_t bits)
{
    const int32_t kp = mcf_sub_kp(k, bits);
    const int32_t row_words = kp * bits / 32;
    const uint32_t *w = (const uint32_t *)(const void *)weights;
    int16_t *buf = (int16_t *)scratch;
    if (pixels == 1) {
        mcf_sub_im2col(win, in, 0, rq->in_zp, buf, kp, 0, 1);
        for (int32_t c = 0; c < out_c; ++c) {
            const mcf_sub_chan q = mcf_sub_chan_of(rq, bias, c);
            out[c] = mcf_sub_dsp_out(rq, &q, mcf_sub_dot1x1(w + (size_t)c * row_words, (const int32_t *)scratch,
                                                            kp, bits), bits);
        }
        return;
    }
    for (int32_t p = 0; p < pixels; p += 4) {
        const int32_t n = pixels - p < 4 ? pixels - p : 4;
        for (int32_t l = 0; l < 4; ++l) {
            mcf_sub_im2col(win, in, p + (l < n ? l : n - 1), rq->in_zp, buf, kp, l, 4);
        }
        int8_t *o = out + (size_t)p * out_c;
        for (int32_t c = 0; c < out_c; ++c) {
            int32_t acc[4];
            const mcf_sub_chan q = mcf_sub_chan_of(rq, bias, c);
            mcf_sub_dot1x4(w + (size_t)c * row_words, (const int32_t *)scratch, kp, bits, acc);
            for (int32_t l = 0; l < n; ++l) {
                o[l * out_c + c] = mcf_sub_dsp_out(rq, &q, acc[l], bits);
            }
        }
    }
}

static inline void mcf_conv2d_sub_dsp(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits)
{
    const mcf_window *w = &a->win;
    mcf_sub_dsp_gemm(w, in, out, w->batch * w->out_h * w->out_w, w->out_c, w->k_h * w->k_w * w->in_c,
                     a->weights, a->bias, &a->rq, a->scratch, bits);
}

/* A fully connected layer is the 1x1 convolution over `rows` pixels of in_features channels. */
static inline void mcf_fully_connected_sub_dsp(const mcf_fully_connected_sub_args *a, const int8_t *in,
                                               int8_t *out, int32_t bits)
{
    const mcf_window w = mcf_fc_window(a->rows, a->in_features, a->out_features);
    mcf_sub_dsp_gemm(&w, in, out, a->rows, a->out_features, a->in_features, a->weights, a->bias, &a->rq,
                     a->scratch, bits);
}

#endif /* __ARM_FEATURE_DSP */
#endif /* MCF_SUBBYTE_DSP_H */
