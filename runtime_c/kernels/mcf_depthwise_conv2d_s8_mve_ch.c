/*
 * int8 depthwise convolution with depth multiplier 1 (any kernel, stride, dilation, padding) for
 * Cortex-M55 with Helium (MVE), vectorized over channels.
 *
 * Method: NHWC keeps the channels of a pixel contiguous, so 4 channels of one tap are one widening
 * VLDRB.S32, multiplied lanewise by the 4 channels' weights of that tap (no gathers: a gather
 * costs one instruction but a beat per lane, so it looked cheap in instruction counts and is slow
 * in cycles). MVE has no lanewise vector x vector VMLA, so a MAC is VMUL + VADD. Output pixels go
 * in blocks of 3 along a row, so each weight load feeds 3 pixels (4 would need 9 Q registers with
 * 3 weights and a product; there are 8). For every block the start of each input column its
 * windows touch is computed once (scratch table, k_h rows of cols = 2 * stride + (k_w - 1) *
 * dilation + 1 pointers); a column in the padding (or of a lane past the end of the row) points at
 * a row of input zero points prepared at compile time (the input zero point is folded into the
 * bias), so the channel loop has no padding tests. With a 3-wide kernel, stride 1 and no dilation,
 * the 5 columns of a kernel row are loaded once and each feeds up to 3 pixels (9 products per 5 +
 * 3 loads; inline assembly, see group()); a row's last two pixels take a 2-pixel build of that
 * loop (4 columns, 6 products: kws_dscnn's 5-wide rows). Walking the columns of blocks inside the image with one
 * pointer instead of the table was tried: 4 fewer instructions per kernel row, but kws and vww got
 * slower (+21 k, +15 k instructions: the per-block test and the extra build). Requantization runs
 * on the 4 channels of a pixel: [VSHL], VQRDMULH, sign fix-up, VRSHL (TFLite's rounding), zero
 * point, clamp, one narrowing VSTRB.32; one build per requantization mode leaves out what no
 * channel needs. The last group of channels is tail predicated (zeroing loads, predicated stores),
 * so odd channel counts need no copies. Pixels missing at the end of a row store onto an earlier
 * pixel.
 *
 * Compile-time preparation (variants/mve.py, _mve_dwc_prepare):
 *   packed_weights: int8 [C4 / 4][k_h * k_w][4] (C4 = channels rounded up to 4, zero padded).
 *   packed_quant: a mode word (1: some channel shifts left, 2: some channel has no right shift),
 *     3 padding words, mve_quant4 (folded biases [C4], then per group of 4 channels left shifts,
 *     multipliers, fix-up masks, negated right shifts), then C4 bytes of the input zero point.
 * Scratch: the column table (16-byte aligned).
 * A block's stores happen while other channels of its windows are still to be read, so its
 * output must not overlap its input (the variant marks itself in-place unsafe).
 */
#include <arm_mve.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_mve_requant.h"

/* MVE has no lanewise vector x vector VMLA (only by a scalar): VMUL then VADD */
#define MLA(acc, x, w) vaddq_s32(acc, vmulq_s32(x, w))

/* Per call: constants; per group of 4 channels the blocks below read them afresh. */
typedef struct {
    const int32_t *bias, *q;
    const int8_t *w;
    int32_t taps4;      /* bytes of weights per group: 4 * k_h * k_w */
    int32_t zp, lo, hi;
    int32_t mode;       /* 1: some channel shifts left, 2: some channel has no right shift */
} dw_consts;

/* The 3 pixels' accumulators of channels c ... c + 3 to bytes. TFLite rounds half away from zero,
 * VRSHL half up: negative values move down by one first (VQADD of the sign), in the lanes that
 * shift right (mask f, needed only if some channel does not). The constants are loaded once for
 * the 3 pixels before the first store (a byte store may alias them for the compiler). */
static inline __attribute__((always_inline)) void requant3(int32x4_t a0, int32x4_t a1, int32x4_t a2, const int32_t *q,
                                                           int32_t mode, int32_t zp, int32x4_t vlo, int32x4_t vhi,
                                                           int8_t *o, int32_t o1, int32_t o2, mve_pred16_t p,
                                                           int tail, int two)
{
    const int32x4_t m = vldrwq_s32(q + 4), r = vldrwq_s32(q + 12);
    if (mode & 1) {
        const int32x4_t l = vldrwq_s32(q);
        a0 = vshlq_s32(a0, l);
        a1 = vshlq_s32(a1, l);
        if (!two) {
            a2 = vshlq_s32(a2, l);
        }
    }
    a0 = mcf_mve_rq_mul(a0, m);
    a1 = mcf_mve_rq_mul(a1, m);
    if (!two) {
        a2 = mcf_mve_rq_mul(a2, m);
    }
    if (mode & 2) {
        const int32x4_t f = vldrwq_s32(q + 8);
        a0 = mcf_mve_rq_fix(a0, f);
        a1 = mcf_mve_rq_fix(a1, f);
        if (!two) {
            a2 = mcf_mve_rq_fix(a2, f);
        }
    } else {
        a0 = mcf_mve_rq_fix_all(a0);
        a1 = mcf_mve_rq_fix_all(a1);
        if (!two) {
            a2 = mcf_mve_rq_fix_all(a2);
        }
    }
#define RQ(v) vminq_s32(vmaxq_s32(vaddq_n_s32(vrshlq_s32(v, r), zp), vlo), vhi)
    const int32x4_t v0 = RQ(a0), v1 = RQ(a1);
    if (two && !tail) {     /* the 2-pixel build: two stores */
        vstrbq_s32(o + o1, v1);
        vstrbq_s32(o, v0);
        return;
    }
    const int32x4_t v2 = RQ(a2);
#undef RQ
    /* pixels missing at the end of a row store onto an earlier one, which is stored last */
    if (tail) {
        vstrbq_p_s32(o + o2, v2, p);
        vstrbq_p_s32(o + o1, v1, p);
        vstrbq_p_s32(o, v0, p);
    } else {
        vstrbq_s32(o + o2, v2);
        vstrbq_s32(o + o1, v1);
        vstrbq_s32(o, v0);
    }
}

/* The start of a kernel row of the shared-column 3x3 loop (group()): the row's 3 weights, columns
 * 0 and 1 into pixel 0 (and column 1 into pixel 1), column 2 loaded. */
#define MCF_DW3_HEAD                                                                \
    "1:\n\t" \
    "vldrb.s32 %q[w0], [%[wp]], #4\n\t" \
    "ldr %[t], [%[cp]], #4\n\t" \
    "vldrb.s32 %q[w1], [%[wp]], #4\n\t" \
    "add %[t], %[c]\n\t" \
    "vldrb.s32 %q[w2], [%[wp]], #4\n\t" \
    "vldrb.s32 %q[x], [%[t]]\n\t" \
    "ldr %[t], [%[cp]], #4\n\t" \
    "vmul.i32 %q[x], %q[x], %q[w0]\n\t" \
    "add %[t], %[c]\n\t" \
    "vadd.i32 %q[a0], %q[a0], %q[x]\n\t" \
    "vldrb.s32 %q[x], [%[t]]\n\t" \
    "ldr %[t], [%[cp]], #4\n\t" \
    "vmul.i32 %q[m], %q[x], %q[w1]\n\t" \
    "add %[t], %[c]\n\t" \
    "vadd.i32 %q[a0], %q[a0], %q[m]\n\t" \
    "vmul.i32 %q[x], %q[x], %q[w0]\n\t" \
    "vadd.i32 %q[a1], %q[a1], %q[x]\n\t" \
    "vldrb.s32 %q[x], [%[t]]\n\t"

/* Channels c ... c + 3 of the 3 pixels of a block. tail: zeroing predicated input loads (the
 * weights are zero padded). fast3: 3-wide kernel, stride 1, no dilation: the 5 columns of a
 * kernel row are each loaded once and feed up to 3 pixels. */
static inline __attribute__((always_inline)) void group(const int8_t *const *col, int32_t cols, const mcf_window *win,
                                                         int32_t c, const int8_t *w, const int32_t *bias,
                                                         const int32_t *q, const dw_consts *k, int32_t mode,
                                                         int32x4_t vlo, int32x4_t vhi, int8_t *o, int32_t o1,
                                                         int32_t o2, mve_pred16_t p, int tail, int fast3, int two)
{
    int32x4_t a0 = vldrwq_s32(bias), a1 = a0, a2 = a0;
#define LD(ptr) (tail ? vldrbq_z_s32((ptr) + c, p) : vldrbq_s32((ptr) + c))
    if (fast3 && two && !tail) {
        /* The last two pixels of a row (kws_dscnn's rows are 5 wide: 3 + 2): per kernel row 3
         * weight loads, the first 4 columns and 6 products and sums, 29 instructions instead of
         * the 38 of the 3-pixel loop; requant3 then leaves out the third pixel. */
        const int8_t *const *cp = col;
        const int8_t *wp = w;
        int32_t n = win->k_h;
        const int8_t *t;
        int32x4_t w0, w1, w2, x, m;
        __asm__ volatile(
            MCF_DW3_HEAD
            "ldr %[t], [%[cp]], #8\n\t"
            "vmul.i32 %q[m], %q[x], %q[w2]\n\t"
            "add %[t], %[c]\n\t"
            "vadd.i32 %q[a0], %q[a0], %q[m]\n\t"
            "vmul.i32 %q[m], %q[x], %q[w1]\n\t"
            "vadd.i32 %q[a1], %q[a1], %q[m]\n\t"
            "vldrb.s32 %q[x], [%[t]]\n\t"
            "subs %[n], #1\n\t"
            "vmul.i32 %q[x], %q[x], %q[w2]\n\t"
            "vadd.i32 %q[a1], %q[a1], %q[x]\n\t"
            "bne 1b"
            : [a0] "+w"(a0), [a1] "+w"(a1), [w0] "=&w"(w0), [w1] "=&w"(w1), [w2] "=&w"(w2),
              [x] "=&w"(x), [m] "=&w"(m), [cp] "+r"(cp), [wp] "+l"(wp), [n] "+r"(n), [t] "=&l"(t)
            : [c] "r"(c)
            : "memory", "cc");
    } else if (fast3 && !tail) {
        /* Why assembly: the rows below need all 8 Q registers (3 accumulators, 3 weights, the
         * column, a product) and GCC 12 spilled accumulators to the stack inside this loop (about
         * 50 instructions per kernel row instead of 38). It uses no stack and calls nothing, so the
         * function's stack use as GCC reports it stays exact. (Widening VLDRB takes a low base
         * register: constraint "l".) Per kernel row: 3 weight loads, 5
         * columns (pointer from the table, + c, widening load), 9 products and 9 sums. */
        const int8_t *const *cp = col;
        const int8_t *wp = w;
        int32_t n = win->k_h;
        const int8_t *t;
        int32x4_t w0, w1, w2, x, m;
        __asm__ volatile(
            MCF_DW3_HEAD
            "ldr %[t], [%[cp]], #4\n\t"
            "vmul.i32 %q[m], %q[x], %q[w2]\n\t"
            "add %[t], %[c]\n\t"
            "vadd.i32 %q[a0], %q[a0], %q[m]\n\t"
            "vmul.i32 %q[m], %q[x], %q[w1]\n\t"
            "vadd.i32 %q[a1], %q[a1], %q[m]\n\t"
            "vmul.i32 %q[x], %q[x], %q[w0]\n\t"
            "vadd.i32 %q[a2], %q[a2], %q[x]\n\t"
            "vldrb.s32 %q[x], [%[t]]\n\t"
            "ldr %[t], [%[cp]], #4\n\t"
            "vmul.i32 %q[m], %q[x], %q[w2]\n\t"
            "add %[t], %[c]\n\t"
            "vadd.i32 %q[a1], %q[a1], %q[m]\n\t"
            "vmul.i32 %q[x], %q[x], %q[w1]\n\t"
            "vadd.i32 %q[a2], %q[a2], %q[x]\n\t"
            "vldrb.s32 %q[x], [%[t]]\n\t"
            "subs %[n], #1\n\t"
            "vmul.i32 %q[x], %q[x], %q[w2]\n\t"
            "vadd.i32 %q[a2], %q[a2], %q[x]\n\t"
            "bne 1b"
            : [a0] "+w"(a0), [a1] "+w"(a1), [a2] "+w"(a2), [w0] "=&w"(w0), [w1] "=&w"(w1), [w2] "=&w"(w2),
              [x] "=&w"(x), [m] "=&w"(m), [cp] "+r"(cp), [wp] "+l"(wp), [n] "+r"(n), [t] "=&l"(t)
            : [c] "r"(c)
            : "memory", "cc");
    } else if (fast3) {
        for (int32_t ky = 0; ky < win->k_h; ++ky, col += 5, w += 12) {
            const int32x4_t w0 = vldrbq_s32(w), w1 = vldrbq_s32(w + 4), w2 = vldrbq_s32(w + 8);
            int32x4_t x = LD(col[0]);
            a0 = MLA(a0, x, w0);
            x = LD(col[1]);
            a0 = MLA(a0, x, w1);
            a1 = MLA(a1, x, w0);
            x = LD(col[2]);
            a0 = MLA(a0, x, w2);
            a1 = MLA(a1, x, w1);
            a2 = MLA(a2, x, w0);
            x = LD(col[3]);
            a1 = MLA(a1, x, w2);
            a2 = MLA(a2, x, w1);
            x = LD(col[4]);
            a2 = MLA(a2, x, w2);
        }
    } else {
        const int32_t s = win->stride_w, d = win->dil_w;
        for (int32_t ky = 0; ky < win->k_h; ++ky, col += cols) {
            const int8_t *const *cp = col;
            for (int32_t kx = 0; kx < win->k_w; ++kx, w += 4, cp += d) {
                const int32x4_t wv = vldrbq_s32(w);
                a0 = MLA(a0, LD(cp[0]), wv);
                a1 = MLA(a1, LD(cp[s]), wv);
                a2 = MLA(a2, LD(cp[2 * s]), wv);
            }
        }
    }
#undef LD
    requant3(a0, a1, a2, q, mode, k->zp, vlo, vhi, o + c, o1, o2, p, tail, two && !tail);
}

static inline __attribute__((always_inline)) void block_t(const int8_t *const *col, int32_t cols,
                                                           const mcf_window *win, const dw_consts *k, int8_t *o,
                                                           int32_t nl, int32_t mode, int fast3, int two)
{
    const int32_t C = win->in_c;
    const int32x4_t vlo = vdupq_n_s32(k->lo), vhi = vdupq_n_s32(k->hi);
    const int8_t *w = k->w;
    const int32_t *bias = k->bias, *q = k->q;
    const int32_t o1 = nl > 1 ? C : 0, o2 = nl > 2 ? 2 * C : o1;
    int32_t c = 0;
    for (; c + 4 <= C; c += 4, w += k->taps4, bias += 4, q += 16) {
        group(col, cols, win, c, w, bias, q, k, mode, vlo, vhi, o, o1, o2, 0xFFFF, 0, fast3, two);
    }
    if (c < C) {
        group(col, cols, win, c, w, bias, q, k, mode, vlo, vhi, o, o1, o2, vctp32q((uint32_t)(C - c)), 1, fast3, two);
    }
}

/* one build per requantization mode and path, so that neither test sits in the channel loop */
#define BLOCK(name, mode, fast3, two)                                                                    \
    static void __attribute__((noinline)) name(const int8_t *const *col, int32_t cols, const mcf_window *win, \
                                               const dw_consts *k, int8_t *o, int32_t nl)                \
    {                                                                                                    \
        block_t(col, cols, win, k, o, nl, mode, fast3, two);                                             \
    }
BLOCK(block3_0, 0, 1, 0)
BLOCK(block3_1, 1, 1, 0)
BLOCK(block3_2, 2, 1, 0)
BLOCK(block3_3, 3, 1, 0)
BLOCK(block2_0, 0, 1, 1)
BLOCK(block2_1, 1, 1, 1)
BLOCK(block2_2, 2, 1, 1)
BLOCK(block2_3, 3, 1, 1)
BLOCK(block_any, 3, 0, 0)
#undef BLOCK

void mcf_depthwise_conv2d_s8_mve_ch(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c, c4 = (C + 3) & ~3;
    const int32_t s = w->stride_w, kh = w->k_h, kw = w->k_w;
    const int32_t cols = 2 * s + (kw - 1) * w->dil_w + 1;
    const int fast3 = kw == 3 && s == 1 && w->dil_w == 1;
    dw_consts k;
    k.mode = a->packed_quant[0];
    k.bias = a->packed_quant + 4;
    k.q = k.bias + c4;
    k.w = (const int8_t *)a->packed_weights;
    k.taps4 = 4 * kh * kw;
    k.zp = a->rq.out_zp;
    k.lo = a->rq.act_min;
    k.hi = a->rq.act_max;
    const int8_t *zp_row = (const int8_t *)(a->packed_quant + 4 + 5 * c4);
    void (*const block)(const int8_t *const *, int32_t, const mcf_window *, const dw_consts *, int8_t *, int32_t) =
        !fast3 ? block_any : k.mode == 0 ? block3_0 : k.mode == 1 ? block3_1 : k.mode == 2 ? block3_2 : block3_3;
    /* a row's last two pixels (fast3 only) */
    void (*const block2)(const int8_t *const *, int32_t, const mcf_window *, const dw_consts *, int8_t *, int32_t) =
        !fast3 ? block_any : k.mode == 0 ? block2_0 : k.mode == 1 ? block2_1 : k.mode == 2 ? block2_2 : block2_3;
    const int8_t **col = (const int8_t **)(((uintptr_t)a->scratch + 15u) & ~(uintptr_t)15u);
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * C;
        int8_t *out_n = out + (size_t)n * w->out_h * w->out_w * C;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const int32_t iy0 = oy * w->stride_h - w->pad_top;
            for (int32_t ox = 0; ox < w->out_w; ox += 3) {
                const int32_t nl = MCF_MIN(3, w->out_w - ox);
                const int32_t ix0 = ox * s - w->pad_left;
                /* columns past the last pixel's window (lanes beyond the row) read the zero points */
                const int32_t ix_end = ix0 + (nl - 1) * s + (kw - 1) * w->dil_w;
                /* columns j0 <= j < j1 are inside the image */
                const int32_t j0 = MCF_MIN(cols, MCF_MAX(0, -ix0));
                const int32_t j1 = MCF_MIN(cols, MCF_MIN(w->in_w, ix_end + 1) - ix0);
                const int8_t **t = col;
                for (int32_t ky = 0; ky < kh; ++ky, t += cols) {
                    const int32_t iy = iy0 + ky * w->dil_h;
                    int32_t j = 0;
                    if (iy >= 0 && iy < w->in_h) {
                        const int8_t *p = in_n + ((size_t)iy * w->in_w + ix0 + j0) * C;
                        for (; j < j0; ++j) {
                            t[j] = zp_row;
                        }
                        for (; j < j1; ++j, p += C) {
                            t[j] = p;
                        }
                    }
                    for (; j < cols; ++j) {
                        t[j] = zp_row;
                    }
                }
                int8_t *o = out_n + ((size_t)oy * w->out_w + ox) * C;
                (nl == 2 ? block2 : block)(col, cols, w, &k, o, nl);
            }
        }
    }
}
