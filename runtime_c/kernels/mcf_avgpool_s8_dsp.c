/*
 * int8 average pooling over NHWC windows for cores with the DSP extension (Cortex-M4, M7, M33).
 *
 * Four channels per 32-bit word: a tap is LDR + two SXTAB16 (bytes 0/2 and 1/3 added into two
 * 16-bit lane pairs), so window sums cost 3 instructions per 4 channels per cell (8 channels per
 * loop step). A window has at
 * most 128 cells (variants/dsp_pool.py checks it), so a lane sum S lies in [-128 c, 127 c].
 *
 * The division keeps TFLite's rounding (half away from zero) without a divide per channel: with
 * u = S + 128 c >= 0 it equals floor((u + h) / c) - 128, h = c / 2, except that for even c a
 * negative S must use h - 1 (a tie rounds down there). One SADD16 forms the biased numerators of
 * two lanes, USUB16/SEL picks the h - 1 version for negative lanes, and SMULWB/SMULWT by
 * m = ceil(2^24 / c) give floor(n / c) * 256 + (garbage < 256) exactly for n < 2^15 (the error
 * n * (m c - 2^24) stays below 2^24). Bits 8..15 of the four products are the four output bytes;
 * -128 is an XOR with 0x80 per byte, the activation clamp is SSUB8/SEL in SIMD.
 * Padded cells are left out of the count, or (count_include_pad) counted as the zero point.
 * Pixel by pixel, as the reference kernel, so the same in-place overlaps are safe.
 */
#include <arm_acle.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"
#include "mcf_window.h"

static inline uint32_t smulwb(uint32_t m, uint32_t x)
{
    uint32_t r;
    __asm__("smulwb %0, %1, %2" : "=r"(r) : "r"(m), "r"(x));
    return r;
}

static inline uint32_t smulwt(uint32_t m, uint32_t x)
{
    uint32_t r;
    __asm__("smulwt %0, %1, %2" : "=r"(r) : "r"(m), "r"(x));
    return r;
}

typedef struct {
    uint32_t K2, K2m1, T2;   /* biased numerator (h, h - 1) and tie threshold, in both lanes */
    uint32_t m;              /* ceil(2^24 / count) */
    int32_t even, clamp;
    uint32_t lo4, hi4;
} avg_consts;

/* lane sums of channels (0, 2) and (1, 3) -> four int8 averages in one word */
static inline uint32_t average4(uint32_t ae, uint32_t ao, const avg_consts *k)
{
    uint32_t ne = __sadd16(ae, k->K2), no = __sadd16(ao, k->K2);
    if (k->even) {
        /* negative sums (n < T) take h - 1 */
        const uint32_t ne1 = __sadd16(ae, k->K2m1), no1 = __sadd16(ao, k->K2m1);
        (void)__usub16(ne, k->T2);
        ne = __sel(ne, ne1);
        (void)__usub16(no, k->T2);
        no = __sel(no, no1);
    }
    const uint32_t q02 = smulwb(k->m, ne) | smulwt(k->m, ne) << 16;
    const uint32_t q13 = smulwb(k->m, no) | smulwt(k->m, no) << 16;
    uint32_t r = (((q02 >> 8) & 0x00FF00FFu) | (q13 & 0xFF00FF00u)) ^ 0x80808080u;
    if (k->clamp) {
        r = mcf_min4_s8(mcf_max4_s8(r, k->lo4), k->hi4);
    }
    return r;
}

void mcf_avgpool_s8_dsp(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c;
    avg_consts k;
    k.clamp = a->act_min > -128 || a->act_max < 127;
    k.lo4 = 0x01010101u * (uint8_t)a->act_min;
    k.hi4 = 0x01010101u * (uint8_t)a->act_max;
    const int32_t dy = w->dil_h * w->in_w * C, dx = w->dil_w * C;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * C;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const mcf_span ry = mcf_window_rows(w, oy);
            for (int32_t ox = 0; ox < w->out_w; ++ox, out += C) {
                const mcf_span rx = mcf_window_cols(w, ox);
                const int32_t nky = ry.n, nkx = rx.n;
                const int32_t valid = nky * nkx;
                const int32_t count = mcf_pool_count(w, a->count_include_pad, valid);
                const int32_t padsum = a->count_include_pad ? a->pad_value * (count - valid) : 0;
                if (count == 0) {
                    mcf_pool_empty_s8(out, C, 0, a->act_min, a->act_max);
                    continue;
                }
                /* per pixel: biased numerator K (both lanes), the tie threshold T, reciprocal m */
                const int32_t h = count / 2;
                const uint32_t K = (uint32_t)(padsum + 128 * count + h), T = (uint32_t)(128 * count + h);
                k.K2 = K | K << 16;
                k.K2m1 = k.K2 - 0x00010001u;
                k.T2 = T | T << 16;
                k.m = ((1u << 24) + (uint32_t)count - 1) / (uint32_t)count;
                k.even = !(count & 1);
                const int8_t *first = in_n + mcf_window_at(ry, rx, w->in_w, C);
                int32_t c = 0;
                for (; c + 8 <= C; c += 8) {
                    /* eight channels per step: half the loop overhead per tap of four */
                    uint32_t ae0 = 0, ao0 = 0, ae1 = 0, ao1 = 0;
                    const int8_t *row = first + c;
                    for (int32_t ky = 0; ky < nky; ++ky, row += dy) {
                        const int8_t *p = row;
                        for (int32_t kx = 0; kx < nkx; ++kx, p += dx) {
                            const uint32_t v0 = (uint32_t)mcf_rd32(p), v1 = (uint32_t)mcf_rd32(p + 4);
                            ae0 = __sxtab16(ae0, v0);
                            ao0 = mcf_sxtab16_ror8(ao0, v0);
                            ae1 = __sxtab16(ae1, v1);
                            ao1 = mcf_sxtab16_ror8(ao1, v1);
                        }
                    }
                    mcf_wr32(out + c, (int32_t)average4(ae0, ao0, &k));
                    mcf_wr32(out + c + 4, (int32_t)average4(ae1, ao1, &k));
                }
                if (c + 4 <= C) {
                    uint32_t ae = 0, ao = 0;
                    const int8_t *row = first + c;
                    for (int32_t ky = 0; ky < nky; ++ky, row += dy) {
                        const int8_t *p = row;
                        for (int32_t kx = 0; kx < nkx; ++kx, p += dx) {
                            const uint32_t v = (uint32_t)mcf_rd32(p);
                            ae = __sxtab16(ae, v);
                            ao = mcf_sxtab16_ror8(ao, v);
                        }
                    }
                    mcf_wr32(out + c, (int32_t)average4(ae, ao, &k));
                    c += 4;
                }
                for (; c < C; ++c) {
                    /* the portable rule for one channel */
                    const int32_t acc = mcf_window_sum_s8(padsum, first + c, nky, nkx, dy, dx);
                    out[c] = mcf_sat_s8(mcf_round_div(acc, count), a->act_min, a->act_max);
                }
            }
        }
    }
}
