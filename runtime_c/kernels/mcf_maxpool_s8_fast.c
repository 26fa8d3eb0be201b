/*
 * int8 max pooling in tuned portable C for cores without SIMD (Cortex-M0 / M3, any C99 target).
 *
 * The portable kernel tests every tap against the borders per channel. Here each output pixel
 * clips its window once (rows ky0..ky1, columns kx0..kx1); the channel loop then only loads and
 * compares, and the first valid cell seeds the maximum (a clipped window is never empty for a
 * real layer; an empty one gives -129 clamped, as the reference). On ARMv7-M (unaligned word
 * loads) four channels per word, the maximum of signed bytes computed in SWAR (a per-byte compare
 * mask from one subtraction, see ge4), elsewhere one channel per step. The common full 2x2 window
 * has its own loop without tap loops; the activation clamp is skipped when it spans all of int8.
 * Pixel by pixel, and each channel (or word of four) read from every tap before it is written, as
 * the reference kernel, so the same in-place overlaps are safe.
 */
#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"
#include "mcf_variants.h"
#include "mcf_window.h"

#define H8 0x80808080u

/* 0xFF in each byte where the signed byte of a >= that of b: the low seven bits compare in
 * (a | H) - (b & ~H) (each byte 128 + la - lb, no borrow between bytes), the sign bits directly */
static inline uint32_t ge4(uint32_t a, uint32_t b)
{
    const uint32_t d = (a | H8) - (b & ~H8);
    const uint32_t ge = ((b & ~a) | (d & ~(a ^ b))) & H8;
    return (ge << 1) - (ge >> 7);
}

static inline uint32_t max4(uint32_t a, uint32_t b)
{
    return b ^ ((a ^ b) & ge4(a, b));
}

static inline uint32_t min4(uint32_t a, uint32_t b)
{
    return a ^ ((a ^ b) & ge4(a, b));
}

/* one pixel of a full 2x2 window; `clamp`: the activation range is narrower than int8 */
static inline __attribute__((always_inline)) void max2x2(const int8_t *p, int8_t *out, int32_t C, int32_t dx,
                                                         int32_t dy, int32_t lo, int32_t hi, const int clamp)
{
    const int32_t d3 = dx + dy;
    int32_t c = 0;
#if defined(__ARM_FEATURE_UNALIGNED)
    const uint32_t lo4 = 0x01010101u * (uint8_t)lo, hi4 = 0x01010101u * (uint8_t)hi;
    for (; c + 4 <= C; c += 4, p += 4) {
        uint32_t r = max4(max4((uint32_t)mcf_rd32(p), (uint32_t)mcf_rd32(p + dx)),
                          max4((uint32_t)mcf_rd32(p + dy), (uint32_t)mcf_rd32(p + d3)));
        if (clamp) {
            r = min4(max4(r, lo4), hi4);
        }
        mcf_wr32(out + c, (int32_t)r);
    }
#endif
    for (; c < C; ++c, ++p) {
        int32_t b = p[0];
        const int32_t v1 = p[dx], v2 = p[dy], v3 = p[d3];
        b = v1 > b ? v1 : b;
        b = v2 > b ? v2 : b;
        b = v3 > b ? v3 : b;
        if (clamp) {
            b = b < lo ? lo : b;
            b = b > hi ? hi : b;
        }
        out[c] = (int8_t)b;
    }
}

void mcf_maxpool_s8_fast(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c;
    const int32_t dy = w->dil_h * w->in_w * C, dx = w->dil_w * C;
    const int32_t lo = a->act_min, hi = a->act_max;
    const int clamp = lo > -128 || hi < 127;
#if defined(__ARM_FEATURE_UNALIGNED)
    const uint32_t lo4 = 0x01010101u * (uint8_t)lo, hi4 = 0x01010101u * (uint8_t)hi;
#endif
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * C;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const mcf_span ry = mcf_window_rows(w, oy);
            for (int32_t ox = 0; ox < w->out_w; ++ox, out += C) {
                const mcf_span rx = mcf_window_cols(w, ox);
                const int32_t nky = ry.n, nkx = rx.n;
                if (nky == 0 || nkx == 0) {
                    mcf_pool_empty_s8(out, C, -129, lo, hi);
                    continue;
                }
                /* w->in_c rather than C here: one register less live in the loops below (M3, measured) */
                const int8_t *first = in_n + mcf_window_at(ry, rx, w->in_w, w->in_c);
                if (nky == 2 && nkx == 2) {
                    if (clamp) {
                        max2x2(first, out, C, dx, dy, lo, hi, 1);
                    } else {
                        max2x2(first, out, C, dx, dy, lo, hi, 0);
                    }
                    continue;
                }
                int32_t c = 0;
#if defined(__ARM_FEATURE_UNALIGNED)
                for (; c + 4 <= C; c += 4) {
                    const int8_t *row = first + c;
                    uint32_t r = (uint32_t)mcf_rd32(row);
                    for (int32_t ky = 0; ky < nky; ++ky, row += dy) {
                        const int8_t *p = row;
                        for (int32_t kx = 0; kx < nkx; ++kx, p += dx) {
                            r = max4(r, (uint32_t)mcf_rd32(p));
                        }
                    }
                    if (clamp) {
                        r = min4(max4(r, lo4), hi4);
                    }
                    mcf_wr32(out + c, (int32_t)r);
                }
#endif
                for (; c < C; ++c) {
                    int32_t best = mcf_window_max_s8(first[c], first + c, nky, nkx, dy, dx);
                    best = best < lo ? lo : best;
                    out[c] = (int8_t)(best > hi ? hi : best);
                }
            }
        }
    }
}
