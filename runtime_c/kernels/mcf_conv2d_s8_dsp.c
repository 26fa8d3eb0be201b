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
 * Why assembly for the channel-pair loop: the 2 x 2 block needs all 14 usable registers
 * (4 accumulators, 2 pointers, 8 operands), so compiled C spilled the loop state around every
 * block (about 55 instructions of overhead per channel pair). The hand-scheduled loop keeps that
 * state in a 9-word frame read and written with single LDM / STM instructions, enters the 8-times
 * unrolled K loop Duff-style through a computed branch, and requantizes with 5 instructions per
 * output (about 31 + 3 per 8 K steps per channel pair).
 * Why both pixels are widened in one pass: the column of each pixel is written where the other
 * lane's words sit between, and one pass writes all 4 words of a group at once.
 * For a 1x1 convolution without padding the "im2col" is therefore just that widening of two input
 * pixels' channel rows (no gather, no bounds checks): the K loop runs over the input directly
 * widened, since int8 operands cannot feed SMLAD and widening in the K loop would cost 4 more
 * instructions per 16 MACs (there is no free register to keep them in).
 */
#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"

typedef struct {
    int32_t seg_len, seg_len4, n_seg, k4;
} geom;

/* The frame of the channel-pair loop, copied to its stack by one LDM / PUSH (offsets in the asm). */
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
#define MCF_RQ(dst, acc)                                                            \
    "smmlar " dst ", " acc ", r7, r8\n\t"                                           \
    "add " dst ", " dst ", " acc ", asr #31\n\t"                                    \
    "asr " dst ", " dst ", r9\n\t"                                                  \
    "ssat " dst ", #8, " dst "\n\t"

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
#define MCF_PAIR_LOOP_HEAD                                                          \
    "push {r4-r11, lr}\n\t"                                                         \
    "ldr lr, [r0, #36]\n\t"                                                         \
    "ldm r0, {r1-r9}\n\t"                                                           \
    "adr.w r10, 8f\n\t"                                                             \
    "mov.w r11, #40\n\t"                                                            \
    "mla r6, r6, r11, r10\n\t"                                                      \
    "orr r6, r6, #1\n\t"                                                            \
    "push {r1-r9}\n\t"                                                              \
    "ldmia r1!, {r0, r2}\n\t"                                                       \
    "str r1, [sp]\n\t"                                                              \
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

#define MCF_PAIR_LOOP_TAIL                                                          \
    "ldmia r4!, {r0, r2}\n\t"                                                       \
    "stm sp, {r4, r5, r6}\n\t"                                                      \
    "cmp r5, r12\n\t"                                                               \
    "bne.w 1b\n\t"                                                                  \
    "add sp, sp, #36\n\t"                                                           \
    "pop {r4-r11, pc}\n\t"

/* All channel pairs of two pixels, without an activation clamp (ssat only): 5 instructions per
 * output. */
static void __attribute__((naked, noinline)) pairs_2px(const pair_frame *f __attribute__((unused)))
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
static void __attribute__((naked, noinline)) pairs_2px_clamp(const pair_frame *f __attribute__((unused)))
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
static inline void widen_seg(int32_t *dst, const int8_t *src, int32_t len)
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
static inline void widen_seg2(int32_t *dst, const int8_t *s0, const int8_t *s1, int32_t len)
{
    const int8_t *end = s0 + (len & ~3);
    if (s0 != end) {
        __asm__ volatile(
            "1:\n\t"
            "ldr r4, [%[s0]], #4\n\t"
            "ldr r6, [%[s1]], #4\n\t"
            "sxtb16 r5, r4, ror #8\n\t"
            "sxtb16 r4, r4\n\t"
            "sxtb16 r7, r6, ror #8\n\t"
            "sxtb16 r6, r6\n\t"
            "stmia %[d]!, {r4, r5, r6, r7}\n\t"
            "cmp %[s0], %[end]\n\t"
            "bne 1b\n\t"
            : [s0] "+r"(s0), [s1] "+r"(s1), [d] "+r"(dst)
            : [end] "r"(end)
            : "r4", "r5", "r6", "r7", "cc", "memory");
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
        if (row_in && ix >= 0 && ix < w->in_w) {
            memcpy(segbuf + t * c, in_n + ((size_t)iy * w->in_w + ix) * c, (size_t)c);
        } else {
            memset(segbuf + t * c, zp, (size_t)c);
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

/* One lane's segment that touches the padding. */
static void lane_padded(const mcf_window *w, const geom *gm, const int8_t *in_n, int8_t zp, int32_t iy, int32_t ix0,
                        int32_t taps, int32_t *dst, int8_t *segbuf)
{
    if ((w->in_c & 3) == 0) {
        pad_lane(w, in_n, (int32_t)((uint32_t)(uint16_t)zp * 0x10001u), iy, ix0, taps, dst);
    } else {
        pad_segment(w, in_n, zp, iy, ix0, taps, segbuf);
        widen_seg(dst, segbuf, gm->seg_len);
    }
}

/*
 * The columns of pixels (oy0, ox0) and (oy1, ox1) into lanes 0 and 1 of the scratch. A segment
 * that lies wholly inside the input is read in place; one that touches the padding is built one
 * lane at a time.
 */
static void im2col2(const mcf_conv2d_s8_args *a, const geom *gm, const int8_t *in_n, int32_t oy0, int32_t ox0,
                    int32_t oy1, int32_t ox1, int32_t *col, int8_t *segbuf)
{
    const mcf_window *w = &a->win;
    const int8_t zp = (int8_t)a->rq.in_zp;
    const int32_t len = gm->seg_len, c = w->in_c;
    const int32_t row_bytes = w->in_w * c;
    const int32_t taps = w->dil_w == 1 ? w->k_w : 1;      /* input pixels per segment */
    const int32_t kx_n = w->dil_w == 1 ? 1 : w->k_w;      /* segments per kernel row */
    const int32_t iy0 = oy0 * w->stride_h - w->pad_top, iy1 = oy1 * w->stride_h - w->pad_top;
    const int32_t ix0 = ox0 * w->stride_w - w->pad_left, ix1 = ox1 * w->stride_w - w->pad_left;
    for (int32_t ky = 0; ky < w->k_h; ++ky) {
        const int32_t y0 = iy0 + ky * w->dil_h, y1 = iy1 + ky * w->dil_h;
        const int rows_in0 = y0 >= 0 && y0 < w->in_h, rows_in1 = y1 >= 0 && y1 < w->in_h;
        for (int32_t kx = 0; kx < kx_n; ++kx, col += gm->seg_len4) {
            const int32_t x0 = ix0 + kx * w->dil_w, x1 = ix1 + kx * w->dil_w;
            const int in0 = rows_in0 && x0 >= 0 && x0 + taps <= w->in_w;
            const int in1 = rows_in1 && x1 >= 0 && x1 + taps <= w->in_w;
            const int32_t off0 = y0 * row_bytes + x0 * c, off1 = y1 * row_bytes + x1 * c;
            if (in0 && in1) {
                widen_seg2(col, in_n + off0, in_n + off1, len);
                continue;
            }
            if (in0) {
                widen_seg(col, in_n + off0, len);
            } else {
                lane_padded(w, gm, in_n, zp, y0, x0, taps, col, segbuf);
            }
            if (in1) {
                widen_seg(col + 2, in_n + off1, len);
            } else {
                lane_padded(w, gm, in_n, zp, y1, x1, taps, col + 2, segbuf);
            }
        }
    }
}

static inline int8_t store1(int32_t acc2, const int32_t *q, int32_t lo, int32_t hi)
{
    const int32_t y = __ssat(mcf_dsp_requant(acc2, q[1], q[2], q[3]), 8);
    return (int8_t)MCF_CLAMP(y, lo, hi);
}

static inline uint32_t bytes4(int32_t v)
{
    return (uint32_t)(uint8_t)v * 0x01010101u;
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
    const int32_t steps = gm.k4 >> 2;
    const int32_t pairs = w->out_c >> 1;
    const int32_t lo = a->rq.act_min, hi = a->rq.act_max;
    const int clamp = lo > -128 || hi < 127;
    const int16_t *w_odd = (const int16_t *)a->packed_weights + (size_t)pairs * 8 * steps;
    const int32_t *q_odd = a->packed_quant + 8 * pairs;
    /* 1x1 without padding: every column is one input pixel's channels, widened in place */
    const int direct = w->k_h == 1 && w->k_w == 1 && w->pad_top == 0 && w->pad_left == 0 &&
                       (w->out_h - 1) * w->stride_h < w->in_h && (w->out_w - 1) * w->stride_w < w->in_w;
    pair_frame f;
    f.col = col;
    f.skip = steps == 1 ? 16u : (uint32_t)(1 - steps) & 15u;
    f.col_end = col + 4 * steps;
    f.lo4 = bytes4(lo);
    f.hi4 = bytes4(hi);
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        int8_t *out_n = out + (size_t)n * npix * w->out_c;
        int32_t oy = 0, ox = 0;
        for (int32_t p = 0; p < npix; p += 2) {
            /* a last single pixel fills both lanes and is written twice */
            const int32_t oy0 = oy, ox0 = ox;
            if (p + 1 < npix && ++ox == w->out_w) {
                ox = 0;
                ++oy;
            }
            if (direct) {
                const size_t c = (size_t)w->in_c;
                widen_seg2(col, in_n + ((size_t)oy0 * w->stride_h * w->in_w + (size_t)ox0 * w->stride_w) * c,
                           in_n + ((size_t)oy * w->stride_h * w->in_w + (size_t)ox * w->stride_w) * c, w->in_c);
            } else {
                im2col2(a, &gm, in_n, oy0, ox0, oy, ox, col, segbuf);
            }
            int8_t *out0 = out_n + (size_t)p * w->out_c;
            int8_t *out1 = p + 1 < npix ? out0 + w->out_c : out0;
            if (++ox == w->out_w) {
                ox = 0;
                ++oy;
            }
            if (pairs) {
                f.q = a->packed_quant;
                f.out0 = out0;
                f.out1 = out1;
                f.out0_end = out0 + 2 * pairs;
                f.w = a->packed_weights;
                if (clamp) {
                    pairs_2px_clamp(&f);
                } else {
                    pairs_2px(&f);
                }
            }
            if (w->out_c & 1) {
                int32_t a0 = q_odd[0], a1 = q_odd[0];
                const int32_t *wp = (const int32_t *)w_odd;
                const int32_t *xp = col;
                for (int32_t s = 0; s < steps; ++s, xp += 4, wp += 2) {
                    a0 = __smlad(wp[0], xp[0], a0);
                    a0 = __smlad(wp[1], xp[1], a0);
                    a1 = __smlad(wp[0], xp[2], a1);
                    a1 = __smlad(wp[1], xp[3], a1);
                }
                out0[w->out_c - 1] = store1(a0, q_odd, lo, hi);
                out1[w->out_c - 1] = store1(a1, q_odd, lo, hi);
            }
        }
    }
}
