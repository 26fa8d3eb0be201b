/*
 * int8 average pooling in tuned portable C for cores without SIMD or a divide instruction
 * (Cortex-M0 / M3, any C99 target).
 *
 * The portable kernel tests every tap against the borders and divides per channel (a library
 * call on the M0). Here each output pixel clips its window once (rows ky0..ky1, columns kx0..kx1)
 * and derives all division constants once; the channel loops then only load and add.
 * Where unaligned word loads exist (ARMv7-M) four channels share one load: the bytes are biased
 * to x + 128 (one XOR) and split into two words of two 16-bit lanes (channels 0/2 and 1/3). A
 * window has at most 128 cells (variants/fast_pool.py checks it), so a lane stays below 2^15.
 * Elsewhere (the M0 has no unaligned loads) one channel at a time, LDRSB + ADD per tap.
 *
 * The division keeps TFLite's rounding (half away from zero) with no divide: with the biased sum
 * n = S + 128 c + h >= 0 (h = c / 2) the average is floor(n / c) - 128, except that for even c a
 * negative S uses h - 1 (a tie rounds down there); floor(n / c) is (n m) >> 22 with
 * m = ceil(2^22 / c), exact because n < 256 c and 256 c^2 <= 2^22 (the error n (m c - 2^22) / c
 * stays below 2^22 / c). The activation clamp is applied in the biased domain.
 * Padded cells are left out of the count, or (count_include_pad) counted at the zero point.
 * Pixel by pixel and channel by channel, as the reference kernel, so the same in-place overlaps
 * are safe.
 */
#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"
#include "mcf_variants.h"
#include "mcf_window.h"

typedef struct {
    int32_t K;      /* 128 (count - valid) + padsum + h: added to a biased sum over the valid cells */
    int32_t T;      /* even count: biased numerators below T belong to negative sums; else 0 */
    uint32_t m;     /* ceil(2^22 / count) */
    int32_t lo, hi; /* activation range + 128 */
} avg_consts;

static inline int8_t average(int32_t u, const avg_consts *k)
{
    int32_t n = u + k->K;
    n -= n < k->T;
    int32_t q = (int32_t)(((uint32_t)n * k->m) >> 22);
    q = q < k->lo ? k->lo : q;
    q = q > k->hi ? k->hi : q;
    return (int8_t)(q - 128);
}

void mcf_avgpool_s8_fast(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c;
    const int32_t dy = w->dil_h * w->in_w * C, dx = w->dil_w * C;
    avg_consts k;
    int32_t last_count = 0;
    k.m = 0;
    k.lo = a->act_min + 128;
    k.hi = a->act_max + 128;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * C;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const mcf_span ry = mcf_window_rows(w, oy);
            for (int32_t ox = 0; ox < w->out_w; ++ox, out += C) {
                const mcf_span rx = mcf_window_cols(w, ox);
                const int32_t nky = ry.n, nkx = rx.n;
                const int32_t valid = nky * nkx;
                const int32_t count = mcf_pool_count(w, a->count_include_pad, valid);
                if (count == 0) {
                    mcf_pool_empty_s8(out, C, 0, a->act_min, a->act_max);
                    continue;
                }
                const int32_t h = count / 2;
                const int32_t padsum = a->count_include_pad ? a->pad_value * (count - valid) : 0;
                k.K = 128 * (count - valid) + padsum + h;
                k.T = (count & 1) ? 0 : 128 * count + h;
                if (count != last_count) {
                    /* a divide per pixel only where the count changes (the border) */
                    k.m = ((1u << 22) + (uint32_t)count - 1) / (uint32_t)count;
                    last_count = count;
                }
                const int8_t *first = in_n + mcf_window_at(ry, rx, w->in_w, C);
                int32_t c = 0;
                const int32_t bias = 128 * valid;
                if (nky == 2 && nkx == 2) {
                    /* the common 2x2 window without loops over taps */
                    const int32_t d3 = dy + dx;
#if defined(__ARM_FEATURE_UNALIGNED)
                    for (; c + 4 <= C; c += 4) {
                        const int8_t *p = first + c;
                        const uint32_t u0 = (uint32_t)mcf_rd32(p) ^ 0x80808080u;
                        const uint32_t u1 = (uint32_t)mcf_rd32(p + dx) ^ 0x80808080u;
                        const uint32_t u2 = (uint32_t)mcf_rd32(p + dy) ^ 0x80808080u;
                        const uint32_t u3 = (uint32_t)mcf_rd32(p + d3) ^ 0x80808080u;
                        const uint32_t ae = (u0 & 0x00FF00FFu) + (u1 & 0x00FF00FFu) + (u2 & 0x00FF00FFu)
                                          + (u3 & 0x00FF00FFu);
                        const uint32_t ao = ((u0 >> 8) & 0x00FF00FFu) + ((u1 >> 8) & 0x00FF00FFu)
                                          + ((u2 >> 8) & 0x00FF00FFu) + ((u3 >> 8) & 0x00FF00FFu);
                        out[c] = average((int32_t)(ae & 0xFFFFu), &k);
                        out[c + 1] = average((int32_t)(ao & 0xFFFFu), &k);
                        out[c + 2] = average((int32_t)(ae >> 16), &k);
                        out[c + 3] = average((int32_t)(ao >> 16), &k);
                    }
#endif
                    for (; c < C; ++c) {
                        const int8_t *p = first + c;
                        out[c] = average(bias + p[0] + p[dx] + p[dy] + p[d3], &k);
                    }
                    continue;
                }
#if defined(__ARM_FEATURE_UNALIGNED)
                for (; c + 4 <= C; c += 4) {
                    uint32_t ae = 0, ao = 0;
                    const int8_t *row = first + c;
                    for (int32_t ky = 0; ky < nky; ++ky, row += dy) {
                        const int8_t *p = row;
                        for (int32_t kx = 0; kx < nkx; ++kx, p += dx) {
                            const uint32_t u = (uint32_t)mcf_rd32(p) ^ 0x80808080u;
                            ae += u & 0x00FF00FFu;
                            ao += (u >> 8) & 0x00FF00FFu;
                        }
                    }
                    out[c] = average((int32_t)(ae & 0xFFFFu), &k);
                    out[c + 1] = average((int32_t)(ao & 0xFFFFu), &k);
                    out[c + 2] = average((int32_t)(ae >> 16), &k);
                    out[c + 3] = average((int32_t)(ao >> 16), &k);
                }
#endif
                for (; c < C; ++c) {
                    out[c] = average(mcf_window_sum_s8(bias, first + c, nky, nkx, dy, dx), &k);
                }
            }
        }
    }
}
