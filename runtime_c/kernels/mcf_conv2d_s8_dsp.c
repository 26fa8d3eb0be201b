/*
 * int8 2-D convolution (groups == 1) for cores with the DSP extension (Cortex-M4, M7, M33).
 *
 * im2col to int16 + a register-blocked SMLAD matrix kernel (2 output channels x 2 output pixels).
 * Compile-time preparation (variants.py, dsp_conv):
 *   the patch is cut into segments of contiguous input bytes: one per kernel row (k_w * in_c bytes)
 *   when dil_w == 1, else one per kernel tap (in_c bytes); each segment is padded to a multiple of
 *   4 (L4), K4 = n_seg * L4. Inside each group of 4, the weights are stored as (w0, w2, w1, w3),
 *   doubled, int16: the order SXTB16 / SXTB16-ROR-8 produce from 4 input bytes, so that the im2col
 *   is LDR + 2 x SXTB16 + 2 x STR per 4 values. Channel pairs are interleaved per group of 4:
 *   [oc pair][K4 / 4][ch0: 4 halfwords][ch1: 4 halfwords], an odd last channel as [K4 / 4][4].
 *   packed_quant: 4 words per channel {2 * bias', multiplier, rcz, e} (mcf_opt.h).
 * Scratch: two interleaved int16 columns ([K4 / 4][px0: 4][px1: 4], 4 * K4 bytes), then one
 * segment of int8 (L4 bytes) for segments that touch the padding.
 */
#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"

typedef struct {
    int32_t seg_len, seg_len4, n_seg, k4;
} geom;

/* 4 int8 -> 2 words of int16 in SXTB16 order, written to the column of one lane. */
static inline void widen_seg(int32_t *dst, const int8_t *src, int32_t len)
{
    const int8_t *end = src + (len & ~3);
    while (src != end) {
        const uint32_t v = (uint32_t)mcf_rd32(src);
        dst[0] = (int32_t)__sxtb16(v);
        dst[1] = (int32_t)mcf_sxtb16_ror8(v);
        dst += 4;
        src += 4;
    }
    const int32_t rest = len & 3;
    if (rest) {
        uint32_t v = 0;
        for (int32_t i = 0; i < rest; ++i) {
            v |= (uint32_t)(uint8_t)src[i] << (8 * i);
        }
        dst[0] = (int32_t)__sxtb16(v);
        dst[1] = (int32_t)mcf_sxtb16_ror8(v);
    }
}

/* The column of output pixel (oy, ox) into lane `lane` of the scratch. */
static void im2col(const mcf_conv2d_s8_args *a, const geom *gm, const int8_t *in_n, int32_t oy, int32_t ox,
                   int32_t *col, int8_t *segbuf)
{
    const mcf_window *w = &a->win;
    const int32_t iy0 = oy * w->stride_h - w->pad_top;
    const int32_t ix0 = ox * w->stride_w - w->pad_left;
    const int8_t zp = (int8_t)a->rq.in_zp;
    const int32_t c = w->in_c;
    int32_t *dst = col;
    const int32_t seg_words = gm->seg_len4;   /* words of the interleaved column per segment */
    if (w->dil_w == 1) {
        const int32_t row_in = ix0 >= 0 && ix0 + w->k_w <= w->in_w;
        for (int32_t ky = 0; ky < w->k_h; ++ky, dst += seg_words) {
            const int32_t iy = iy0 + ky * w->dil_h;
            if (iy >= 0 && iy < w->in_h && row_in) {
                widen_seg(dst, in_n + ((size_t)iy * w->in_w + ix0) * c, gm->seg_len);
                continue;
            }
            for (int32_t kx = 0; kx < w->k_w; ++kx) {
                const int32_t ix = ix0 + kx;
                if (iy >= 0 && iy < w->in_h && ix >= 0 && ix < w->in_w) {
                    memcpy(segbuf + kx * c, in_n + ((size_t)iy * w->in_w + ix) * c, (size_t)c);
                } else {
                    memset(segbuf + kx * c, zp, (size_t)c);
                }
            }
            widen_seg(dst, segbuf, gm->seg_len);
        }
    } else {
        for (int32_t ky = 0; ky < w->k_h; ++ky) {
            const int32_t iy = iy0 + ky * w->dil_h;
            for (int32_t kx = 0; kx < w->k_w; ++kx, dst += seg_words) {
                const int32_t ix = ix0 + kx * w->dil_w;
                if (iy >= 0 && iy < w->in_h && ix >= 0 && ix < w->in_w) {
                    widen_seg(dst, in_n + ((size_t)iy * w->in_w + ix) * c, c);
                } else {
                    memset(segbuf, zp, (size_t)c);
                    widen_seg(dst, segbuf, c);
                }
            }
        }
    }
}

static inline int8_t finish(int32_t acc2, const int32_t *q, int32_t lo, int32_t hi)
{
    const int32_t y = mcf_dsp_requant(acc2, q[1], q[2], q[3]);
    return (int8_t)MCF_CLAMP(y, lo, hi);
}

/*
 * One step of the 2 x 2 block (4 K of two channels x two pixels): one LDM of both pixels' column
 * words (r4-r6, r8), one LDM of both channels' weights (r9-r12), eight SMLAD: 10 instructions for
 * 16 MACs. The steps are unrolled eight times and entered Duff-style, so the loop counter is
 * touched once per eight steps and the asm needs no register for it.
 */
#define MCF_DSP_STEP_2X2                                                          \
    __asm__ volatile(                                                             \
        "ldm %[xp]!, {r4, r5, r6, r8}\n\t"                                        \
        "ldm %[wp]!, {r9, r10, r11, r12}\n\t"                                     \
        "smlad %[a00], r9, r4, %[a00]\n\t"                                        \
        "smlad %[a00], r10, r5, %[a00]\n\t"                                       \
        "smlad %[a01], r9, r6, %[a01]\n\t"                                        \
        "smlad %[a01], r10, r8, %[a01]\n\t"                                       \
        "smlad %[a10], r11, r4, %[a10]\n\t"                                       \
        "smlad %[a10], r12, r5, %[a10]\n\t"                                       \
        "smlad %[a11], r11, r6, %[a11]\n\t"                                       \
        "smlad %[a11], r12, r8, %[a11]\n\t"                                       \
        : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11),     \
          [xp] "+r"(xp), [wp] "+r"(wp)                                            \
        :                                                                         \
        : "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "memory")

static inline int32_t sat_store(int32_t acc2, int32_t m, int32_t rcz, int32_t e, int32_t lo, int32_t hi,
                                const int clamp)
{
    int32_t y = __ssat(mcf_dsp_requant(acc2, m, rcz, e), 8);
    if (clamp) {
        y = MCF_CLAMP(y, lo, hi);
    }
    return y;
}

/* All output channels of two pixels (or of one: lane 1 of the column is then ignored). */
static inline __attribute__((always_inline)) void gemm_body(const mcf_conv2d_s8_args *a, int32_t steps,
                                                             const int32_t *col, int8_t *out0, int8_t *out1,
                                                             const int two, const int clamp)
{
    const int32_t oc_n = a->win.out_c;
    const int32_t lo = a->rq.act_min, hi = a->rq.act_max;
    const int32_t *wp = (const int32_t *)a->packed_weights;
    const int32_t *q = a->packed_quant;
    int32_t oc = 0;
    for (; oc + 2 <= oc_n; oc += 2, q += 8) {
        int32_t a00 = q[0], a01 = q[0], a10 = q[4], a11 = q[4];
        const int32_t *xp = col;
        int32_t blocks = (steps + 7) >> 3;
        switch (steps & 7) {
        case 0: do { MCF_DSP_STEP_2X2; /* fall through */
        case 7: MCF_DSP_STEP_2X2; /* fall through */
        case 6: MCF_DSP_STEP_2X2; /* fall through */
        case 5: MCF_DSP_STEP_2X2; /* fall through */
        case 4: MCF_DSP_STEP_2X2; /* fall through */
        case 3: MCF_DSP_STEP_2X2; /* fall through */
        case 2: MCF_DSP_STEP_2X2; /* fall through */
        case 1: MCF_DSP_STEP_2X2;
                } while (--blocks > 0);
        default: break;
        }
        {
            const int32_t m = q[1], r = q[2], e = q[3];
            out0[oc] = (int8_t)sat_store(a00, m, r, e, lo, hi, clamp);
            if (two) {
                out1[oc] = (int8_t)sat_store(a01, m, r, e, lo, hi, clamp);
            }
        }
        {
            const int32_t m = q[5], r = q[6], e = q[7];
            out0[oc + 1] = (int8_t)sat_store(a10, m, r, e, lo, hi, clamp);
            if (two) {
                out1[oc + 1] = (int8_t)sat_store(a11, m, r, e, lo, hi, clamp);
            }
        }
    }
    if (oc < oc_n) {
        int32_t a00 = q[0], a01 = q[0];
        const int32_t *xp = col;
        for (int32_t n = 0; n < steps; ++n, xp += 4, wp += 2) {
            a00 = __smlad(wp[0], xp[0], a00);
            a00 = __smlad(wp[1], xp[1], a00);
            a01 = __smlad(wp[0], xp[2], a01);
            a01 = __smlad(wp[1], xp[3], a01);
        }
        out0[oc] = (int8_t)sat_store(a00, q[1], q[2], q[3], lo, hi, clamp);
        if (two) {
            out1[oc] = (int8_t)sat_store(a01, q[1], q[2], q[3], lo, hi, clamp);
        }
    }
}

static void __attribute__((noinline, optimize("omit-frame-pointer")))
gemm_2px(const mcf_conv2d_s8_args *a, int32_t k4, const int32_t *col, int8_t *out0, int8_t *out1)
{
    const int clamp = a->rq.act_min > -128 || a->rq.act_max < 127;
    if (out1) {
        if (clamp) {
            gemm_body(a, k4 >> 2, col, out0, out1, 1, 1);
        } else {
            gemm_body(a, k4 >> 2, col, out0, out1, 1, 0);
        }
    } else {
        gemm_body(a, k4 >> 2, col, out0, out0, 0, 1);
    }
}

void mcf_conv2d_s8_dsp(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    geom gm;
    gm.seg_len = w->dil_w == 1 ? w->k_w * w->in_c : w->in_c;
    gm.seg_len4 = (gm.seg_len + 3) & ~3;
    gm.n_seg = w->dil_w == 1 ? w->k_h : w->k_h * w->k_w;
    gm.k4 = gm.n_seg * gm.seg_len4;
    int32_t *col = (int32_t *)a->scratch;
    int8_t *segbuf = (int8_t *)(col + gm.k4);
    const int32_t npix = w->out_h * w->out_w;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        int8_t *out_n = out + (size_t)n * npix * w->out_c;
        int32_t oy = 0, ox = 0;
        for (int32_t p = 0; p < npix; p += 2) {
            im2col(a, &gm, in_n, oy, ox, col, segbuf);
            int8_t *out1 = NULL;
            if (++ox == w->out_w) {
                ox = 0;
                ++oy;
            }
            if (p + 1 < npix) {
                im2col(a, &gm, in_n, oy, ox, col + 2, segbuf);
                out1 = out_n + (size_t)(p + 1) * w->out_c;
                if (++ox == w->out_w) {
                    ox = 0;
                    ++oy;
                }
            }
            gemm_2px(a, gm.k4, col, out_n + (size_t)p * w->out_c, out1);
        }
    }
}
