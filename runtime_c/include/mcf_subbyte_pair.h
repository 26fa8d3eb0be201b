/*
 * mcf_subbyte_pair.h - fully connected layer with int4 / ternary weights for cores without SIMD
 * (Cortex-M0 / M3; the _pair variants, codegen/c/variants/fast_subbyte_fc.py), no scratch.
 *
 * Two multiply-accumulates per 32-bit multiply, read from the packed word in place. The inputs
 * are offset to x' = x + 128 in [0, 255] and paired as X = a' + b' 2^16 straight from a word of
 * four inputs v = [x0 x1 x2 x3]: (v ^ 0x80808080) & 0x00ff00ff = (x0, x2), the same of v >> 8 =
 * (x1, x3). Flash holds the weights offset too, w' = w + 8 (int4) / w + 1 (ternary), unsigned
 * fields of `bits` bits, n = 32 / bits to a word, arranged so that (u >> bits s) & M (M = the
 * field mask in both halves, 0x000f000f / 0x00030003) is W = c' + d' 2^16 with d' the weight of
 * a and c' the weight of b of pair s. Then X W = a'c' + (a'd' + b'c') 2^16 with every term
 * non-negative: over the n / 2 pairs of one word the low sum stays below 2^16 (int4: 4 x 255 x 15,
 * ternary: 8 x 255 x 2) and the whole below 2^32, so the sum's high half is exactly the word's
 * dot product sum x' w'. Per pair: a shift-and-mask (one AND with shifted operand on ARMv7-M), one
 * multiply(-accumulate); one shift-add per word and channel; the inputs' pairing (4 instructions
 * per 4 inputs) is shared by two channels.
 *
 * sum (x - zp) w = sum x' w' - off Sx - (128 + zp) Sw - 128 off K with Sx = sum x (once per
 * row at run time) and the rest folded into the bias at compile time (B = bias - (128 + zp) Sw -
 * 128 off K, checked to fit 32 bits; |acc| < 2^29 as for _fast). Requires K a multiple of n.
 */
#ifndef MCF_SUBBYTE_PAIR_H
#define MCF_SUBBYTE_PAIR_H

#include <stdint.h>
#include <string.h>

#include "mcf_subbyte_ref.h"

/* Four inputs at p as one word, offset by 128 per byte; p 4-byte aligned where `aligned` (a word
 * load also on ARMv6-M, which faults on unaligned ones), else assembled from bytes. */
static inline uint32_t mcf_pair_load(const int8_t *p, int32_t aligned)
{
    uint32_t v;
    if (aligned) {
#ifdef __GNUC__
        memcpy(&v, __builtin_assume_aligned(p, 4), 4);
#else
        memcpy(&v, p, 4);
#endif
    } else {
        const uint8_t *b = (const uint8_t *)p;
        v = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
    }
    return v ^ 0x80808080u;
}

/* One channel's dot product sum x' w' over `words` words (w: its first word, step: words between
 * two of its words, 2 where channels are interleaved in pairs) from inputs x. */
static inline uint32_t mcf_pair_dot1(const int8_t *x, int32_t words, const uint32_t *w, int32_t step, int32_t bits,
                                     int32_t aligned)
{
    const uint32_t mask = bits == 4 ? 0x000f000fu : 0x00030003u;
    uint32_t d = 0u;
#define MCF_PAIR_GROUP(q)                                                                       \
    do {                                                                                        \
        const uint32_t v = mcf_pair_load(x + 4 * (q), aligned);                                 \
        t += (v & 0x00ff00ffu) * ((u >> (bits * 2 * (q))) & mask)                               \
             + ((v >> 8) & 0x00ff00ffu) * ((u >> (bits * (2 * (q) + 1))) & mask);               \
    } while (0)
    for (int32_t j = 0; j < words; ++j, w += step) {
        const uint32_t u = *w;
        uint32_t t = 0u;
        MCF_PAIR_GROUP(0);
        MCF_PAIR_GROUP(1);
        if (bits == 2) {
            MCF_PAIR_GROUP(2);
            MCF_PAIR_GROUP(3);
        }
#undef MCF_PAIR_GROUP
        d += t >> 16;
        x += 32 / bits;
    }
    return d;
}

#if defined(__GNUC__) && !defined(__clang__) && \
    (defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__))
#define MCF_PAIR_ASM_V7M 1
/* ARMv7-M: two channels, their words interleaved (one LDRD), per group of four inputs LDR (any
 * alignment), EOR, LSR, 2 AND to pair them, per pair and channel AND (shifted operand) + MUL/MLA. */
#define MCF_PAIR_X                                                                              \
    "ldr %[xa], [%[xp]], #4\n\t"                                                                \
    "eor %[xa], %[xa], #0x80808080\n\t"                                                         \
    "lsr %[xb], %[xa], #8\n\t"                                                                  \
    "and %[xa], %[xa], #0x00ff00ff\n\t"                                                         \
    "and %[xb], %[xb], #0x00ff00ff\n\t"
#define MCF_PAIR_FIRST(u, t, sb)                                                                \
    "and %[w], %[m], %[" #u "]\n\t"                                                             \
    "mul %[" #t "], %[xa], %[w]\n\t"                                                            \
    "and %[w], %[m], %[" #u "], lsr #" #sb "\n\t"                                               \
    "mla %[" #t "], %[xb], %[w], %[" #t "]\n\t"
#define MCF_PAIR_NEXT(u, t, sa, sb)                                                             \
    "and %[w], %[m], %[" #u "], lsr #" #sa "\n\t"                                               \
    "mla %[" #t "], %[xa], %[w], %[" #t "]\n\t"                                                 \
    "and %[w], %[m], %[" #u "], lsr #" #sb "\n\t"                                               \
    "mla %[" #t "], %[xb], %[w], %[" #t "]\n\t"
#define MCF_PAIR_ASM(body)                                                                      \
    uint32_t u0, u1, xa, xb, w, t0, t1;                                                         \
    __asm__ volatile(                                                                           \
        "1:\n\t"                                                                                \
        "ldrd %[u0], %[u1], [%[wp]], #8\n\t"                                                    \
        body                                                                                    \
        "add %[d0], %[d0], %[t0], lsr #16\n\t"                                                  \
        "add %[d1], %[d1], %[t1], lsr #16\n\t"                                                  \
        "cmp %[xp], %[end]\n\t"                                                                 \
        "bne 1b\n\t"                                                                            \
        : [d0] "+r"(d0), [d1] "+r"(d1), [xp] "+r"(x), [wp] "+r"(wp), [u0] "=&r"(u0), [u1] "=&r"(u1), \
          [xa] "=&r"(xa), [xb] "=&r"(xb), [w] "=&r"(w), [t0] "=&r"(t0), [t1] "=&r"(t1)          \
        : [m] "r"(mask), [end] "r"(end)                                                         \
        : "cc", "memory")

__attribute__((noinline)) static void mcf_pair_dot2_w4(const int8_t *x, const int8_t *end, const uint32_t *wp,
                                                       uint32_t *acc)
{
    uint32_t d0 = acc[0], d1 = acc[1];
    const uint32_t mask = 0x000f000fu;
    MCF_PAIR_ASM(MCF_PAIR_X MCF_PAIR_FIRST(u0, t0, 4) MCF_PAIR_FIRST(u1, t1, 4)
                 MCF_PAIR_X MCF_PAIR_NEXT(u0, t0, 8, 12) MCF_PAIR_NEXT(u1, t1, 8, 12));
    acc[0] = d0;
    acc[1] = d1;
}

__attribute__((noinline)) static void mcf_pair_dot2_w2(const int8_t *x, const int8_t *end, const uint32_t *wp,
                                                       uint32_t *acc)
{
    uint32_t d0 = acc[0], d1 = acc[1];
    const uint32_t mask = 0x00030003u;
    MCF_PAIR_ASM(MCF_PAIR_X MCF_PAIR_FIRST(u0, t0, 2) MCF_PAIR_FIRST(u1, t1, 2)
                 MCF_PAIR_X MCF_PAIR_NEXT(u0, t0, 4, 6) MCF_PAIR_NEXT(u1, t1, 4, 6)
                 MCF_PAIR_X MCF_PAIR_NEXT(u0, t0, 8, 10) MCF_PAIR_NEXT(u1, t1, 8, 10)
                 MCF_PAIR_X MCF_PAIR_NEXT(u0, t0, 12, 14) MCF_PAIR_NEXT(u1, t1, 12, 14));
    acc[0] = d0;
    acc[1] = d1;
}
#undef MCF_PAIR_X
#undef MCF_PAIR_FIRST
#undef MCF_PAIR_NEXT
#undef MCF_PAIR_ASM
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__) && \
    (defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__))
#define MCF_PAIR_ASM_V6M 1
/* ARMv6-M: one channel (the eight low registers hold the input pointer, the word, the two input
 * pairs, two temporaries and the two masks; the weight pointer, its step, 0x80808080, the end and
 * the sum live in high registers). Per pair LSRS, ANDS, MULS, ADDS; x 4-byte aligned (LDM). */
#define MCF_PAIR6_X                                                                             \
    "ldmia %[x]!, {%[xa]}\n\t"                                                                  \
    "mov %[w], %[c80]\n\t"                                                                      \
    "eors %[xa], %[w]\n\t"                                                                      \
    "lsrs %[xb], %[xa], #8\n\t"                                                                 \
    "ands %[xa], %[mff]\n\t"                                                                    \
    "ands %[xb], %[mff]\n\t"
#define MCF_PAIR6_FIRST(sb)                                                                     \
    "movs %[t], %[mf]\n\t"                                                                      \
    "ands %[t], %[u]\n\t"                                                                       \
    "muls %[t], %[xa], %[t]\n\t"                                                                \
    "lsrs %[w], %[u], #" #sb "\n\t"                                                             \
    "ands %[w], %[mf]\n\t"                                                                      \
    "muls %[w], %[xb], %[w]\n\t"                                                                \
    "adds %[t], %[t], %[w]\n\t"
#define MCF_PAIR6_NEXT(sa, sb)                                                                  \
    "lsrs %[w], %[u], #" #sa "\n\t"                                                             \
    "ands %[w], %[mf]\n\t"                                                                      \
    "muls %[w], %[xa], %[w]\n\t"                                                                \
    "adds %[t], %[t], %[w]\n\t"                                                                 \
    "lsrs %[w], %[u], #" #sb "\n\t"                                                             \
    "ands %[w], %[mf]\n\t"                                                                      \
    "muls %[w], %[xb], %[w]\n\t"                                                                \
    "adds %[t], %[t], %[w]\n\t"
#define MCF_PAIR6_DOT(name, mask, body)                                                         \
    __attribute__((noinline, optimize("omit-frame-pointer"))) static uint32_t name(                \
        const int8_t *x, const int8_t *end, const uint32_t *wp, uint32_t step)                  \
    {                                                                                           \
        uint32_t d = 0u, u, xa, xb, w, t;                                                       \
        const uint32_t mf = (mask), mff = 0x00ff00ffu, c80 = 0x80808080u;                       \
        __asm__ volatile(                                                                       \
            ".syntax unified\n\t"                                                               \
            "1:\n\t"                                                                            \
            "mov %[w], %[wp]\n\t"                                                               \
            "ldr %[u], [%[w]]\n\t"                                                              \
            "add %[w], %[step]\n\t"                                                             \
            "mov %[wp], %[w]\n\t"                                                               \
            body                                                                                \
            "lsrs %[t], %[t], #16\n\t"                                                          \
            "add %[d], %[t]\n\t"                                                                \
            "cmp %[x], %[end]\n\t"                                                              \
            "bne 1b\n\t"                                                                        \
            ".syntax divided\n\t"                                                               \
            : [x] "+l"(x), [u] "=&l"(u), [xa] "=&l"(xa), [xb] "=&l"(xb), [w] "=&l"(w), [t] "=&l"(t), \
              [wp] "+h"(wp), [d] "+h"(d)                                                        \
            : [mf] "l"(mf), [mff] "l"(mff), [c80] "h"(c80), [end] "h"(end), [step] "h"(step)    \
            : "cc", "memory");                                                                  \
        return d;                                                                               \
    }
MCF_PAIR6_DOT(mcf_pair_dot1_w4_v6m, 0x000f000fu,
              MCF_PAIR6_X MCF_PAIR6_FIRST(4) MCF_PAIR6_X MCF_PAIR6_NEXT(8, 12))
MCF_PAIR6_DOT(mcf_pair_dot1_w2_v6m, 0x00030003u,
              MCF_PAIR6_X MCF_PAIR6_FIRST(2) MCF_PAIR6_X MCF_PAIR6_NEXT(4, 6)
              MCF_PAIR6_X MCF_PAIR6_NEXT(8, 10) MCF_PAIR6_X MCF_PAIR6_NEXT(12, 14))
#undef MCF_PAIR6_X
#undef MCF_PAIR6_FIRST
#undef MCF_PAIR6_NEXT
#undef MCF_PAIR6_DOT
#endif

/* Flash: the channels in pairs, the pair's words interleaved (c0 w0, c1 w0, c0 w1, ...); an odd
 * last channel's words follow alone. */
static inline void mcf_fully_connected_sub_pair(const mcf_fully_connected_sub_args *a, const int8_t *in,
                                                int8_t *out, int32_t bits)
{
    const int32_t k = a->in_features, nout = a->out_features;
    const int32_t words = k / (32 / bits);
    const uint32_t off = bits == 4 ? 8u : 1u;
    const uint32_t *wbase = (const uint32_t *)(const void *)a->weights;
    for (int32_t r = 0; r < a->rows; ++r) {
        const int8_t *xr = in + (size_t)r * (size_t)k;
        int32_t sx = 0;
        for (int32_t i = 0; i < k; ++i) {
            sx += xr[i];
        }
        const uint32_t corr = off * (uint32_t)sx;
        const int32_t al = ((uintptr_t)xr & 3u) == 0u;     /* word loads of the inputs (ARMv6-M) */
        int8_t *o = out + (size_t)r * (size_t)nout;
        for (int32_t c = 0; c < nout; c += 2) {
            const uint32_t *w0 = wbase + (size_t)c * (size_t)words;
            uint32_t acc[2];
            acc[0] = (uint32_t)mcf_sub_bias(a->bias, a->bias16, c) - corr;
            if (c + 1 < nout) {
                acc[1] = (uint32_t)mcf_sub_bias(a->bias, a->bias16, c + 1) - corr;
#if defined(MCF_PAIR_ASM_V7M)
                (bits == 4 ? mcf_pair_dot2_w4 : mcf_pair_dot2_w2)(xr, xr + k, w0, acc);
#else
#if defined(MCF_PAIR_ASM_V6M)
                if (al) {
                    acc[0] += (bits == 4 ? mcf_pair_dot1_w4_v6m : mcf_pair_dot1_w2_v6m)(xr, xr + k, w0, 8u);
                    acc[1] += (bits == 4 ? mcf_pair_dot1_w4_v6m : mcf_pair_dot1_w2_v6m)(xr, xr + k, w0 + 1, 8u);
                } else {
                    acc[0] += mcf_pair_dot1(xr, words, w0, 2, bits, 0);
                    acc[1] += mcf_pair_dot1(xr, words, w0 + 1, 2, bits, 0);
                }
#else
                acc[0] += al ? mcf_pair_dot1(xr, words, w0, 2, bits, 1) : mcf_pair_dot1(xr, words, w0, 2, bits, 0);
                acc[1] += al ? mcf_pair_dot1(xr, words, w0 + 1, 2, bits, 1)
                             : mcf_pair_dot1(xr, words, w0 + 1, 2, bits, 0);
#endif
#endif
                o[c + 1] = mcf_sub_out_fast(&a->rq, (int32_t)acc[1], c + 1);
            } else {        /* an odd last channel, its words alone */
#if defined(MCF_PAIR_ASM_V6M)
                acc[0] += al ? (bits == 4 ? mcf_pair_dot1_w4_v6m : mcf_pair_dot1_w2_v6m)(xr, xr + k, w0, 4u)
                             : mcf_pair_dot1(xr, words, w0, 1, bits, 0);
#else
                acc[0] += al ? mcf_pair_dot1(xr, words, w0, 1, bits, 1) : mcf_pair_dot1(xr, words, w0, 1, bits, 0);
#endif
            }
            o[c] = mcf_sub_out_fast(&a->rq, (int32_t)acc[0], c);
        }
    }
}

#endif /* MCF_SUBBYTE_PAIR_H */
