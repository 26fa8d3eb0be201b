/*
 * mcf_subbyte_ref.h - the arithmetic of the portable sub-byte kernels, written once and
 * instantiated per width by the one-line kernels mcf_*_s8_w4.c / _w2.c (`bits` is a constant
 * there, so the compiler specializes each). Same loops as the int8 reference kernels, with the
 * weight read through mcf_wsub(): field i of the packed array, sign-extended.
 */
#ifndef MCF_SUBBYTE_REF_H
#define MCF_SUBBYTE_REF_H

#include "mcf_arith.h"
#include "mcf_fast_requant.h"
#include "mcf_fc_as_conv.h"
#include "mcf_kernels.h"
#include "mcf_subbyte.h"

/* Element i of a packed weight array of `bits` (4 or 2) bits per value, low field first:
 * (f ^ h) - h sign-extends a field f of `bits` bits, h = 2^(bits-1). */
static inline int32_t mcf_wsub(const uint8_t *packed, size_t i, int32_t bits)
{
    const uint32_t per_log2 = bits == 4 ? 1u : 2u;
    const uint32_t byte = packed[i >> per_log2];
    const uint32_t f = (byte >> ((uint32_t)(i & ((1u << per_log2) - 1u)) * (uint32_t)bits)) & ((1u << bits) - 1u);
    const uint32_t h = 1u << (bits - 1);
    return (int32_t)(f ^ h) - (int32_t)h;
}

/* Ternary weights five a byte, base 3 (quant/subbyte.py: pack_base3): byte b holds the trits
 * t = w + 1 of five elements, first one most significant, as b = ceil(256 v / 243) with
 * v = sum t_j 3^(4-j). Read in order, without a table or a division: q = 3 q puts the next trit
 * in bits 8..9 (t = q >> 8) and q &= 255 keeps the rest. mcf_trits_at starts at element i. */
typedef struct {
    const uint8_t *p;   /* next byte */
    uint32_t q;         /* the current byte's remaining trits */
    uint32_t left;      /* how many */
} mcf_trits;

static inline int32_t mcf_trits_next(mcf_trits *s)
{
    if (s->left == 0u) {
        s->q = *s->p++;
        s->left = 5u;
    }
    s->q *= 3u;
    const int32_t t = (int32_t)(s->q >> 8) - 1;
    s->q &= 255u;
    s->left--;
    return t;
}

static inline mcf_trits mcf_trits_at(const uint8_t *packed, size_t i)
{
    mcf_trits s;
    s.p = packed + i / 5u;
    s.q = 0u;
    s.left = 0u;
    for (size_t d = i % 5u; d > 0u; --d) {
        (void)mcf_trits_next(&s);
    }
    return s;
}

static inline int8_t mcf_sub_out(const mcf_requant_sub *rq, int32_t acc, int32_t oc)
{
    acc = mcf_requantize(acc, mcf_sub_mult(rq, oc), rq->shift[oc]) + rq->out_zp;
    return mcf_sat_s8(acc, rq->act_min, rq->act_max);
}

/* The _fast variants' requantization: mcf_fast_mulhi's 32-bit form (exact for |acc| < 2^29, which
 * their compile-time check proves, m >= 0 and 1 <= -shift <= 22), else the reference one. */
static inline int8_t mcf_sub_out_me(const mcf_requant_sub *rq, int32_t acc, int32_t m, int32_t e)
{
    int32_t y;
    if (m >= 0 && e >= 1 && e <= 22) {
        const int32_t rcz = (int32_t)((1u << (e - 1)) + ((uint32_t)rq->out_zp << e));
        y = mcf_fast_requant(acc, m, rcz, e);
    } else {
        y = mcf_requantize(acc, m, -e) + rq->out_zp;
    }
    return mcf_sat_s8(y, rq->act_min, rq->act_max);
}

static inline int8_t mcf_sub_out_fast(const mcf_requant_sub *rq, int32_t acc, int32_t oc)
{
    return mcf_sub_out_me(rq, acc, mcf_sub_mult(rq, oc), -rq->shift[oc]);
}

/* Channel c's outputs at up to four pixels (n of them), its multiplier and shift read once. */
static inline void mcf_sub_store4(int8_t *o, int32_t out_c, int32_t c, int32_t n, const mcf_requant_sub *rq,
                                  int32_t a0, int32_t a1, int32_t a2, int32_t a3)
{
    const int32_t m = mcf_sub_mult(rq, c), e = -rq->shift[c];
    o[c] = mcf_sub_out_me(rq, a0, m, e);
    if (n > 1) {
        o[out_c + c] = mcf_sub_out_me(rq, a1, m, e);
    }
    if (n > 2) {
        o[2 * out_c + c] = mcf_sub_out_me(rq, a2, m, e);
    }
    if (n > 3) {
        o[3 * out_c + c] = mcf_sub_out_me(rq, a3, m, e);
    }
}

/* Any groups; depthwise (groups == in_c) is the case in_per_group == 1. */
static inline void mcf_conv2d_sub(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits)
{
    const mcf_window *w = &a->win;
    const int32_t in_per_group = w->in_c / a->groups;
    const int32_t out_per_group = w->out_c / a->groups;
    const size_t filt_len = (size_t)w->k_h * w->k_w * in_per_group;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const int32_t iy0 = oy * w->stride_h - w->pad_top;
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                const int32_t ix0 = ox * w->stride_w - w->pad_left;
                for (int32_t oc = 0; oc < w->out_c; ++oc) {
                    const int32_t ic0 = (oc / out_per_group) * in_per_group;
                    int32_t acc = mcf_sub_bias(a->bias, a->bias16, oc);
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = iy0 + ky * w->dil_h;
                        if (iy < 0 || iy >= w->in_h) {
                            continue;
                        }
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            const int32_t ix = ix0 + kx * w->dil_w;
                            if (ix < 0 || ix >= w->in_w) {
                                continue;
                            }
                            const int8_t *px = in_n + ((size_t)iy * w->in_w + ix) * w->in_c + ic0;
                            const size_t fk = (size_t)oc * filt_len + ((size_t)ky * w->k_w + kx) * in_per_group;
                            if (bits == 2 && a->base3) {
                                mcf_trits t = mcf_trits_at(a->weights, fk);
                                for (int32_t ic = 0; ic < in_per_group; ++ic) {
                                    acc += ((int32_t)px[ic] - a->rq.in_zp) * mcf_trits_next(&t);
                                }
                                continue;
                            }
                            for (int32_t ic = 0; ic < in_per_group; ++ic) {
                                acc += ((int32_t)px[ic] - a->rq.in_zp) * mcf_wsub(a->weights, fk + (size_t)ic, bits);
                            }
                        }
                    }
                    *out++ = mcf_sub_out(&a->rq, acc, oc);
                }
            }
        }
    }
}

static inline void mcf_fully_connected_sub(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out,
                                           int32_t bits)
{
    for (int32_t r = 0; r < a->rows; ++r) {
        const int8_t *x = in + (size_t)r * a->in_features;
        for (int32_t o = 0; o < a->out_features; ++o) {
            const size_t row = (size_t)o * a->in_features;
            int32_t acc = mcf_sub_bias(a->bias, a->bias16, o);
            if (bits == 2 && a->base3) {
                mcf_trits t = mcf_trits_at(a->weights, row);
                for (int32_t k = 0; k < a->in_features; ++k) {
                    acc += ((int32_t)x[k] - a->rq.in_zp) * mcf_trits_next(&t);
                }
                *out++ = mcf_sub_out(&a->rq, acc, o);
                continue;
            }
            for (int32_t k = 0; k < a->in_features; ++k) {
                acc += ((int32_t)x[k] - a->rq.in_zp) * mcf_wsub(a->weights, row + (size_t)k, bits);
            }
            *out++ = mcf_sub_out(&a->rq, acc, o);
        }
    }
}

/* Depthwise, tuned (the _fast variants, any core): channel by channel, the channel's k_h * k_w
 * weights (at most MCF_SUB_DW_MAX_K, checked at compile time) unpacked once into registers /
 * the stack, then every output pixel of that channel; the window's inner part without bounds
 * checks. Output channel c reads input channel c / mult. */
#define MCF_SUB_DW_MAX_K 64

static inline void mcf_depthwise_sub_fast(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits)
{
    /* local copies: read through `a`, they would be reloaded after every int8 store */
    const mcf_window win = a->win;
    const mcf_window *w = &win;
    const int32_t in_zp = a->rq.in_zp;
    const int32_t mult = w->out_c / w->in_c;
    const int32_t kk = w->k_h * w->k_w;
    int32_t wk[MCF_SUB_DW_MAX_K];
    mcf_trits t3 = mcf_trits_at(a->weights, 0);     /* base 3: the taps in order, channel after channel */
    for (int32_t oc = 0; oc < w->out_c; ++oc) {
        const int32_t ic = oc / mult;
        int32_t wsum = 0;
        for (int32_t i = 0; i < kk; ++i) {
            wk[i] = bits == 2 && a->base3 ? mcf_trits_next(&t3) : mcf_wsub(a->weights, (size_t)oc * kk + (size_t)i, bits);
            wsum += wk[i];
        }
        /* sum (x - zp) w = sum x w - zp sum w over the taps inside the image; a window fully
         * inside (the common case) subtracts zp * wsum once */
        const int32_t b = mcf_sub_bias(a->bias, a->bias16, oc);
        for (int32_t n = 0; n < w->batch; ++n) {
            const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c + ic;
            int8_t *out_n = out + (size_t)n * w->out_h * w->out_w * w->out_c + oc;
            for (int32_t oy = 0; oy < w->out_h; ++oy) {
                const int32_t iy0 = oy * w->stride_h - w->pad_top;
                const int32_t rows_in = iy0 >= 0 && iy0 + (w->k_h - 1) * w->dil_h < w->in_h;
                for (int32_t ox = 0; ox < w->out_w; ++ox) {
                    const int32_t ix0 = ox * w->stride_w - w->pad_left;
                    int32_t acc = b;
                    if (rows_in && ix0 >= 0 && ix0 + (w->k_w - 1) * w->dil_w < w->in_w) {
                        const int8_t *px = in_n + ((size_t)iy0 * w->in_w + ix0) * w->in_c;
                        const int32_t *wp = wk;
                        for (int32_t ky = 0; ky < w->k_h; ++ky) {
                            const int8_t *pr = px + (size_t)ky * w->dil_h * w->in_w * w->in_c;
                            for (int32_t kx = 0; kx < w->k_w; ++kx) {
                                acc += (int32_t)pr[(size_t)kx * w->dil_w * w->in_c] * *wp++;
                            }
                        }
                        acc -= in_zp * wsum;
                    } else {
                        for (int32_t ky = 0; ky < w->k_h; ++ky) {
                            const int32_t iy = iy0 + ky * w->dil_h;
                            if (iy < 0 || iy >= w->in_h) {
                                continue;
                            }
                            for (int32_t kx = 0; kx < w->k_w; ++kx) {
                                const int32_t ix = ix0 + kx * w->dil_w;
                                if (ix < 0 || ix >= w->in_w) {
                                    continue;
                                }
                                acc += ((int32_t)in_n[((size_t)iy * w->in_w + ix) * w->in_c] - in_zp) *
                                       wk[ky * w->k_w + kx];
                            }
                        }
                    }
                    out_n[((size_t)oy * w->out_w + ox) * w->out_c] = mcf_sub_out_fast(&a->rq, acc, oc);
                }
            }
        }
    }
}

/* Convolution (groups 1) and fully connected, tuned (the _fast variants for cores without the DSP
 * extension): four output pixels' patches gathered as int16 (x - zp) into the scratch, then per
 * output channel its row unpacked once into int16 (scratch) and one pass over the four patches:
 * per weight one load and four multiply-accumulates. Scratch: 5 * k int16. */
static inline void mcf_sub_patch16(const mcf_window *w, const int8_t *in, int32_t pix, int32_t zp, int16_t *dst)
{
    const int32_t per_img = w->out_h * w->out_w;
    const int32_t n = pix / per_img;
    const int32_t oy = (pix % per_img) / w->out_w;
    const int32_t ox = pix % w->out_w;
    const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
    const int32_t iy0 = oy * w->stride_h - w->pad_top;
    const int32_t ix0 = ox * w->stride_w - w->pad_left;
    for (int32_t ky = 0; ky < w->k_h; ++ky) {
        const int32_t iy = iy0 + ky * w->dil_h;
        for (int32_t kx = 0; kx < w->k_w; ++kx) {
            const int32_t ix = ix0 + kx * w->dil_w;
            if (iy < 0 || iy >= w->in_h || ix < 0 || ix >= w->in_w) {
                for (int32_t c = 0; c < w->in_c; ++c) {
                    *dst++ = 0;
                }
                continue;
            }
            const int8_t *px = in_n + ((size_t)iy * w->in_w + ix) * w->in_c;
            for (int32_t c = 0; c < w->in_c; ++c) {
                *dst++ = (int16_t)(px[c] - zp);
            }
        }
    }
}

static inline void mcf_sub_gemm_fast(const mcf_window *win, const int8_t *in, int8_t *out, int32_t pixels,
                                     int32_t out_c, int32_t k, const uint8_t *weights, const int32_t *bias,
                                     const int16_t *bias16, const mcf_requant_sub *rq, void *scratch, int32_t bits,
                                     int32_t base3)
{
    int16_t *wrow = (int16_t *)scratch;
    int16_t *x0 = wrow + k;
    int16_t *x1 = x0 + k, *x2 = x1 + k, *x3 = x2 + k;
    if (pixels == 1) {     /* a fully connected layer's single row: no pixel to share a row with */
        mcf_sub_patch16(win, in, 0, rq->in_zp, x0);
        mcf_trits t3 = mcf_trits_at(weights, 0);
        for (int32_t c = 0; c < out_c; ++c) {
            const size_t base = (size_t)c * (size_t)k;
            int32_t acc = mcf_sub_bias(bias, bias16, c);
            if (bits == 2 && base3) {
                for (int32_t i = 0; i < k; ++i) {
                    acc += x0[i] * mcf_trits_next(&t3);
                }
            } else {
                for (int32_t i = 0; i < k; ++i) {
                    acc += x0[i] * mcf_wsub(weights, base + (size_t)i, bits);
                }
            }
            out[c] = mcf_sub_out_fast(rq, acc, c);
        }
        return;
    }
    for (int32_t p = 0; p < pixels; p += 4) {
        const int32_t n = pixels - p < 4 ? pixels - p : 4;
        mcf_sub_patch16(win, in, p, rq->in_zp, x0);
        mcf_sub_patch16(win, in, p + (n > 1), rq->in_zp, x1);
        mcf_sub_patch16(win, in, p + (n > 2 ? 2 : n - 1), rq->in_zp, x2);
        mcf_sub_patch16(win, in, p + (n > 3 ? 3 : n - 1), rq->in_zp, x3);
        int8_t *o = out + (size_t)p * out_c;
        if (!(bits == 2 && base3) && (k * bits) % 32 == 0) {
            /* rows of whole words: fields straight from the word (SBFX on ARMv7-M) */
            const uint32_t *wp = (const uint32_t *)(const void *)weights;
            for (int32_t c = 0; c < out_c; ++c) {
                const int32_t b = mcf_sub_bias(bias, bias16, c);
                int32_t a0 = b, a1 = b, a2 = b, a3 = b;
                const int16_t *y0 = x0, *y1 = x1, *y2 = x2, *y3 = x3;
                for (int32_t i = 0; i < k; i += 32 / bits) {
                    const uint32_t u = *wp++;
#define MCF_SUB_TAP(j)                                                                          \
    do {                                                                                        \
        const int32_t wv = (int32_t)(u << (32 - bits * ((j) + 1))) >> (32 - bits);              \
        a0 += y0[j] * wv;                                                                       \
        a1 += y1[j] * wv;                                                                       \
        a2 += y2[j] * wv;                                                                       \
        a3 += y3[j] * wv;                                                                       \
    } while (0)
                    MCF_SUB_TAP(0); MCF_SUB_TAP(1); MCF_SUB_TAP(2); MCF_SUB_TAP(3);
                    MCF_SUB_TAP(4); MCF_SUB_TAP(5); MCF_SUB_TAP(6); MCF_SUB_TAP(7);
                    if (bits == 2) {
                        MCF_SUB_TAP(8); MCF_SUB_TAP(9); MCF_SUB_TAP(10); MCF_SUB_TAP(11);
                        MCF_SUB_TAP(12); MCF_SUB_TAP(13); MCF_SUB_TAP(14); MCF_SUB_TAP(15);
                    }
#undef MCF_SUB_TAP
                    y0 += 32 / bits;
                    y1 += 32 / bits;
                    y2 += 32 / bits;
                    y3 += 32 / bits;
                }
                mcf_sub_store4(o, out_c, c, n, rq, a0, a1, a2, a3);
            }
            continue;
        }
        mcf_trits t3 = mcf_trits_at(weights, 0);     /* base 3: the rows in order */
        for (int32_t c = 0; c < out_c; ++c) {
            const int32_t b = mcf_sub_bias(bias, bias16, c);
            int32_t a0 = b, a1 = b, a2 = b, a3 = b;
            const size_t base = (size_t)c * (size_t)k;
            if (bits == 2 && base3) {
                for (int32_t i = 0; i < k; ++i) {
                    wrow[i] = (int16_t)mcf_trits_next(&t3);
                }
            } else {
                for (int32_t i = 0; i < k; ++i) {
                    wrow[i] = (int16_t)mcf_wsub(weights, base + (size_t)i, bits);
                }
            }
            for (int32_t i = 0; i < k; ++i) {
                const int32_t wv = wrow[i];
                a0 += x0[i] * wv;
                a1 += x1[i] * wv;
                a2 += x2[i] * wv;
                a3 += x3[i] * wv;
            }
            mcf_sub_store4(o, out_c, c, n, rq, a0, a1, a2, a3);
        }
    }
}

static inline void mcf_conv2d_sub_fast(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits)
{
    const mcf_window *w = &a->win;
    mcf_sub_gemm_fast(w, in, out, w->batch * w->out_h * w->out_w, w->out_c, w->k_h * w->k_w * w->in_c,
                      a->weights, a->bias, a->bias16, &a->rq, a->scratch, bits, a->base3);
}

static inline void mcf_fully_connected_sub_fast(const mcf_fully_connected_sub_args *a, const int8_t *in,
                                                int8_t *out, int32_t bits)
{
    const mcf_window w = mcf_fc_window(a->rows, a->in_features, a->out_features);
    mcf_sub_gemm_fast(&w, in, out, a->rows, a->out_features, a->in_features, a->weights, a->bias, a->bias16,
                      &a->rq, a->scratch, bits, a->base3);
}

#endif /* MCF_SUBBYTE_REF_H */
