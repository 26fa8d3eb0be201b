/*
 * int8 2-D convolution (groups == 1), tuned portable C for cores without SIMD (Cortex-M0, M3) and
 * any C99 target; also runs the fully connected layers (mcf_fully_connected_s8_fast.c).
 *
 * Method: two multiply-accumulates per 32-bit multiply. The patch of one output pixel is gathered
 * (padding = the input zero point, folded into the bias at compile time) and packed as words
 * X = a + b * 2^16 of two int8 inputs; the weights are packed at compile time (variants/fast.py)
 * as W = c + d * 2^16 with d the weight of a and c the weight of b. Then modulo 2^32
 *   X * W = a c + (a d + b c) 2^16,
 * and since |a c| <= 2^14 and a d + b c fits in int16 (compile time checks that no weight pair is
 * (-128, -128)), (X * W + 2^15) >> 16 is exactly the two-term dot product a d + b c. Four output
 * channels share each input word. Per pair and channel: on ARMv7-M an MLA and an ADD with shifted
 * operand, one LDM fetching the four channels' weight words; on ARMv6-M LDR, MULS, ASRS, ADCS (the
 * carry does the rounding); both as inline assembly for GCC, the same arithmetic in C elsewhere.
 * Packing four inputs v = [x0 x1 x2 x3] takes no byte loads: (v ^ 0x80808080) & 0x00ff00ff is
 * (x0 + 128) + (x2 + 128) 2^16, so the pairs are (x0, x2) and (x1, x3).
 *
 * Requantization: per channel q = {bias', m, rcz, e} (variants/shared.py, fast_quant); where e >= 1
 * the 32-bit form of mcf_opt.h, with the high multiply done on 16-bit halves on ARMv6-M (no
 * 32 x 32 -> 64 multiply there: a 64-bit product in C becomes a call of the library's __aeabi_lmul).
 *
 * Scratch: one int8 patch (K rounded up to 4) and its packed words (2 bytes per input).
 */
#include <stdint.h>
#include <string.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_fast_requant.h"

/* inline-assembly inner loops: ARMv6-M (MCF_FAST_ASM_V6M) and ARMv7-M / v8-M mainline (..._V7M) */
#if defined(__GNUC__) && !defined(__clang__)
#if defined(MCF_FAST_NO_LONG_MUL) && defined(__OPTIMIZE__)
/* (it needs all eight low registers: without optimization r7 stays the frame pointer) */
#define MCF_FAST_ASM_V6M 1
#elif defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
    defined(__ARM_ARCH_8_1M_MAIN__)
#define MCF_FAST_ASM_V7M 1
#endif
#endif


static const int8_t *gather(const mcf_conv2d_s8_args *a, const int8_t *in_n, int32_t oy, int32_t ox, int8_t *col)
{
    const mcf_window *w = &a->win;
    const int32_t iy0 = oy * w->stride_h - w->pad_top;
    const int32_t ix0 = ox * w->stride_w - w->pad_left;
    const int32_t c = w->in_c;
    int8_t *dst = col;
    for (int32_t ky = 0; ky < w->k_h; ++ky) {
        const int32_t iy = iy0 + ky * w->dil_h;
        if (w->dil_w == 1 && iy >= 0 && iy < w->in_h && ix0 >= 0 && ix0 + w->k_w <= w->in_w) {
            memcpy(dst, in_n + ((size_t)iy * w->in_w + ix0) * c, (size_t)(w->k_w * c));
            dst += w->k_w * c;
            continue;
        }
        for (int32_t kx = 0; kx < w->k_w; ++kx, dst += c) {
            const int32_t ix = ix0 + kx * w->dil_w;
            if (iy >= 0 && iy < w->in_h && ix >= 0 && ix < w->in_w) {
                memcpy(dst, in_n + ((size_t)iy * w->in_w + ix) * c, (size_t)c);
            } else {
                memset(dst, (int8_t)a->rq.in_zp, (size_t)c);
            }
        }
    }
    return col;
}

/* n4 words of four int8 (4-byte aligned) -> 2 n4 packed pairs (x0, x2), (x1, x3) per word */
static void pack(const int8_t *src, int32_t n4, uint32_t *xp)
{
#ifdef __GNUC__
    /* lets memcpy below become one word load also where unaligned loads fault (ARMv6-M) */
    const int8_t *s = (const int8_t *)__builtin_assume_aligned(src, 4);
#else
    const int8_t *s = src;
#endif
    for (int32_t i = 0; i < n4; ++i, s += 4, xp += 2) {
        uint32_t v;
        memcpy(&v, s, 4);
        v ^= 0x80808080u;
        xp[0] = (v & 0x00ff00ffu) - 0x00800080u;
        xp[1] = ((v >> 8) & 0x00ff00ffu) - 0x00800080u;
    }
}

/* (X W + 2^15) >> 16: the two-term dot product (see the top of the file); `half` holds 2^15 */
#define MCF_DOT2(x, w) ((int32_t)((x) * (w) + half) >> 16)

#if defined(MCF_FAST_ASM_V6M)
/*
 * ARMv6-M: four channels, two input words per pass. Per pair and channel LDR, MULS, ASRS #16,
 * ADCS: the arithmetic shift leaves bit 15 of X W in the carry, so ADCS adds (X W + 2^15) >> 16
 * without a separate rounding add (four instructions instead of the five GCC emits from C). The
 * eight low registers hold the four sums, the two pointers and two temporaries; the end pointer
 * lives in a high register (CMP accepts one).
 */
__attribute__((noinline, optimize("omit-frame-pointer"))) static const uint32_t *dot4(const uint32_t *x,
    const uint32_t *x_end, const uint32_t *pw, int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    uint32_t xv, t;
#define MCF_M0_STEP(off, a) \
    "ldr %[t], [%[pw], #" #off "]\n\t" \
    "muls %[t], %[xv], %[t]\n\t" \
    "asrs %[t], %[t], #16\n\t" \
    "adcs %[" #a "], %[" #a "], %[t]\n\t"
    __asm__ volatile(
        ".syntax unified\n\t"  /* GCC wraps Thumb-1 inline assembly in divided syntax */
        "1:\n\t"
        "ldmia %[x]!, {%[xv]}\n\t"
        MCF_M0_STEP(0, a0) MCF_M0_STEP(4, a1) MCF_M0_STEP(8, a2) MCF_M0_STEP(12, a3)
        "ldmia %[x]!, {%[xv]}\n\t"
        MCF_M0_STEP(16, a0) MCF_M0_STEP(20, a1) MCF_M0_STEP(24, a2) MCF_M0_STEP(28, a3)
        "adds %[pw], %[pw], #32\n\t"
        "cmp %[x], %[end]\n\t"
        "bne 1b\n\t"
        ".syntax divided\n\t"
        : [a0] "+l"(a0), [a1] "+l"(a1), [a2] "+l"(a2), [a3] "+l"(a3), [x] "+l"(x), [pw] "+l"(pw),
          [xv] "=&l"(xv), [t] "=&l"(t)
        : [end] "h"(x_end)
        : "cc", "memory");
#undef MCF_M0_STEP
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    return pw;
}
#elif defined(MCF_FAST_ASM_V7M)
/*
 * ARMv7-M: four channels, two input words per pass. One LDM fetches the four channels' weight
 * words, and per pair and channel MLA (X W + 2^15) and ADD with ASR #16 accumulate: ten
 * instructions per input word for eight multiply-accumulates (GCC's code from the C loop needs
 * sixteen). LDM wants its registers in ascending order, so they are named; r7 (Thumb frame
 * pointer) stays free.
 */
static inline const uint32_t *dot4(const uint32_t *x_in, const uint32_t *x_end, const uint32_t *pw_in, int32_t acc[4])
{
    register const uint32_t *x __asm__("r0") = x_in;
    register const uint32_t *pw __asm__("r1") = pw_in;
    register uint32_t w0 __asm__("r2"), w1 __asm__("r3"), w2 __asm__("r4"), w3 __asm__("r5");
    register uint32_t xv __asm__("r6");
    register int32_t a0 __asm__("r8") = acc[0];
    register int32_t a1 __asm__("r9") = acc[1];
    register int32_t a2 __asm__("r10") = acc[2];
    register int32_t a3 __asm__("r11") = acc[3];
    register uint32_t half __asm__("r12") = 0x8000u;
    register const uint32_t *end __asm__("lr") = x_end;
#define MCF_M3_STEP \
    "ldr %[xv], [%[x]], #4\n\t" \
    "ldmia %[pw]!, {%[w0], %[w1], %[w2], %[w3]}\n\t" \
    "mla %[w0], %[xv], %[w0], %[half]\n\t" \
    "add %[a0], %[a0], %[w0], asr #16\n\t" \
    "mla %[w1], %[xv], %[w1], %[half]\n\t" \
    "add %[a1], %[a1], %[w1], asr #16\n\t" \
    "mla %[w2], %[xv], %[w2], %[half]\n\t" \
    "add %[a2], %[a2], %[w2], asr #16\n\t" \
    "mla %[w3], %[xv], %[w3], %[half]\n\t" \
    "add %[a3], %[a3], %[w3], asr #16\n\t"
    __asm__ volatile(
        "1:\n\t"
        MCF_M3_STEP MCF_M3_STEP
        "cmp %[x], %[end]\n\t"
        "bne 1b\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [pw] "+r"(pw),
          [xv] "=&r"(xv), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3)
        : [end] "r"(end), [half] "r"(half)
        : "cc", "memory");
#undef MCF_M3_STEP
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    return pw;
}
#endif

/* One output pixel: n2 packed input words (even, > 0) against all output channels. Inlined twice
 * (all_fast 0 / 1, see finish). */
static inline __attribute__((always_inline)) void gemm(const mcf_conv2d_s8_args *a, int32_t n2,
                                                       const uint32_t *xp, int8_t *out, int all_fast)
{
    const int32_t oc_n = a->win.out_c, lo = a->rq.act_min, hi = a->rq.act_max;
    const int32_t *q = a->packed_quant;
    const uint32_t *pw = (const uint32_t *)a->packed_weights;
    uint32_t half = 0x8000u;
#ifdef __GNUC__
    /* kept in a register, so that GCC fuses multiply and add into one MLA (ARMv7-M) instead of
     * adding an immediate after a MUL */
    __asm__("" : "+r"(half));
#endif
    int32_t oc = 0;
    for (; oc + 4 <= oc_n; oc += 4) {
        int32_t a0 = q[4 * oc], a1 = q[4 * oc + 4], a2 = q[4 * oc + 8], a3 = q[4 * oc + 12];
#if defined(MCF_FAST_ASM_V6M) || defined(MCF_FAST_ASM_V7M)
        int32_t acc[4] = {a0, a1, a2, a3};
        pw = dot4(xp, xp + n2, pw, acc);
        a0 = acc[0];
        a1 = acc[1];
        a2 = acc[2];
        a3 = acc[3];
#else
        const uint32_t *x = xp;
        for (int32_t j = 0; j < n2; j += 2, x += 2, pw += 8) {
            uint32_t xv = x[0];
            a0 += MCF_DOT2(xv, pw[0]);
            a1 += MCF_DOT2(xv, pw[1]);
            a2 += MCF_DOT2(xv, pw[2]);
            a3 += MCF_DOT2(xv, pw[3]);
            xv = x[1];
            a0 += MCF_DOT2(xv, pw[4]);
            a1 += MCF_DOT2(xv, pw[5]);
            a2 += MCF_DOT2(xv, pw[6]);
            a3 += MCF_DOT2(xv, pw[7]);
        }
#endif
        out[oc] = mcf_fast_finish(a, a0, oc, q + 4 * oc, lo, hi, all_fast);
        out[oc + 1] = mcf_fast_finish(a, a1, oc + 1, q + 4 * oc + 4, lo, hi, all_fast);
        out[oc + 2] = mcf_fast_finish(a, a2, oc + 2, q + 4 * oc + 8, lo, hi, all_fast);
        out[oc + 3] = mcf_fast_finish(a, a3, oc + 3, q + 4 * oc + 12, lo, hi, all_fast);
    }
    for (; oc < oc_n; ++oc) {
        int32_t a0 = q[4 * oc];
        for (int32_t j = 0; j < n2; j += 2, pw += 2) {
            a0 += MCF_DOT2(xp[j], pw[0]);
            a0 += MCF_DOT2(xp[j + 1], pw[1]);
        }
        out[oc] = mcf_fast_finish(a, a0, oc, q + 4 * oc, lo, hi, all_fast);
    }
}

static void gemm_fast(const mcf_conv2d_s8_args *a, int32_t n2, const uint32_t *xp, int8_t *out)
{
    gemm(a, n2, xp, out, 1);
}

static void gemm_any(const mcf_conv2d_s8_args *a, int32_t n2, const uint32_t *xp, int8_t *out)
{
    gemm(a, n2, xp, out, 0);
}

void mcf_conv2d_s8_fast(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t k = w->k_h * w->k_w * w->in_c, k4 = (k + 3) & ~3;
    int8_t *col = (int8_t *)a->scratch;
    uint32_t *xp = (uint32_t *)(void *)(col + k4);
    /* the patch's pad bytes meet zero weights; any int8 value would do, zero keeps runs identical */
    memset(col + k, 0, (size_t)(k4 - k));
    /* a 1x1 stride-1 unpadded convolution whose pixels are whole aligned words packs straight from
     * the input (a pixel is packed before its output is written, as the reference reads it) */
    const int direct = w->k_h == 1 && w->k_w == 1 && w->stride_h == 1 && w->stride_w == 1 && w->pad_top == 0 &&
                       w->pad_left == 0 && (k & 3) == 0 && ((uintptr_t)in & 3) == 0;
    int all_fast = 1;
    for (int32_t oc = 0; oc < w->out_c; ++oc) {
        all_fast &= a->packed_quant[4 * oc + 3] > 0;
    }
    void (*const run)(const mcf_conv2d_s8_args *, int32_t, const uint32_t *, int8_t *) = all_fast ? gemm_fast : gemm_any;
    const int32_t npix = w->out_h * w->out_w;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        int8_t *out_n = out + (size_t)n * npix * w->out_c;
        int32_t oy = 0, ox = 0;
        for (int32_t p = 0; p < npix; ++p) {
            const int8_t *x = direct ? in_n + (size_t)p * k : gather(a, in_n, oy, ox, col);
            pack(x, k4 >> 2, xp);
            run(a, k4 >> 1, xp, out_n + (size_t)p * w->out_c);
            if (++ox == w->out_w) {
                ox = 0;
                ++oy;
            }
        }
    }
}
