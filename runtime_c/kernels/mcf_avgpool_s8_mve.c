/*
 * int8 average pooling over NHWC windows for Cortex-M55 (Helium / MVE).
 *
 * Channels across lanes: sixteen channels per step as two int16x8 sums (VLDRB.S16 widens 8
 * channels while loading, VADD adds them), so a window cell costs 4 instructions per 16 channels.
 * A window has at most 255 cells (variants/mve_pool.py checks it), so a lane sum S, padding at the
 * zero point included, lies in [-128 c, 127 c] and fits int16.
 *
 * The division keeps TFLite's rounding (half away from zero) without a divide: for c cells and
 * h = c / 2 it is floor((S + 128 c + h - [S < 0 and c even]) / c) - 128 (the correction sends ties
 * of negative sums down). The numerator n is non-negative and below 2^17, so floor(n / c) is
 * VMULH.U32 of 2 n by m = ceil(2^31 / c) (the error n (m c - 2^31) stays below 2^31, and c = 1
 * needs no special case). 2 n comes from VSHLLB/VSHLLT, which widen the even and odd lanes to
 * int32 and double them in one instruction each; VMOVNB/VMOVNT put them back in channel order.
 * The last (C mod 16) channels run 8 at a time under tail predicates. Padded cells are left
 * out of the count, or (count_include_pad) counted as the zero point. Pixel by pixel, as the
 * reference kernel, so the same in-place overlaps are safe.
 */
#include <arm_mve.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_window.h"

typedef struct {
    int16_t padsum;     /* zero point times padded cells counted (count_include_pad) */
    int32_t even;       /* count is even: negative sums take h - 1 */
    int32_t k2;         /* 2 (128 c + h) */
    uint32_t m;         /* ceil(2^31 / c) */
    int16x8_t lo, hi;   /* activation clamp */
} avg_consts;

/* eight int16 window sums -> eight int8 averages (in int16 lanes, for a truncating store) */
static inline int16x8_t average8(int16x8_t s, const avg_consts *k)
{
    s = vaddq_n_s16(s, k->padsum);
    if (k->even) {
        s = vaddq_s16(s, vshrq_n_s16(s, 15));
    }
    const uint32x4_t ne = vreinterpretq_u32_s32(vaddq_n_s32(vshllbq_n_s16(s, 1), k->k2));
    const uint32x4_t no = vreinterpretq_u32_s32(vaddq_n_s32(vshlltq_n_s16(s, 1), k->k2));
    const int32x4_t qe = vreinterpretq_s32_u32(vmulhq_u32(ne, vdupq_n_u32(k->m)));
    const int32x4_t qo = vreinterpretq_s32_u32(vmulhq_u32(no, vdupq_n_u32(k->m)));
    int16x8_t r = vmovntq_s32(vmovnbq_s32(vdupq_n_s16(0), qe), qo);
    r = vsubq_n_s16(r, 128);
    return vminq_s16(vmaxq_s16(r, k->lo), k->hi);
}

void mcf_avgpool_s8_mve(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c;
    const int32_t dy = w->dil_h * w->in_w * C, dx = w->dil_w * C;
    avg_consts k;
    k.lo = vdupq_n_s16((int16_t)a->act_min);
    k.hi = vdupq_n_s16((int16_t)a->act_max);
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * C;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const mcf_span ry = mcf_window_rows(w, oy);
            for (int32_t ox = 0; ox < w->out_w; ++ox, out += C) {
                const mcf_span rx = mcf_window_cols(w, ox);
                const int32_t nky = ry.n, nkx = rx.n;
                const int32_t count = mcf_pool_count(w, a->count_include_pad, nky * nkx);
                if (count == 0) {
                    mcf_pool_empty_s8(out, C, 0, a->act_min, a->act_max);
                    continue;
                }
                k.padsum = (int16_t)(a->count_include_pad ? a->pad_value * (count - nky * nkx) : 0);
                k.even = !(count & 1);
                k.k2 = 2 * (128 * count + count / 2);
                k.m = (uint32_t)((((uint64_t)1 << 31) + (uint32_t)count - 1) / (uint32_t)count);
                const int8_t *first = in_n + mcf_window_at(ry, rx, w->in_w, C);
                int32_t c = 0;
                for (; c + 16 <= C; c += 16) {
                    /* full blocks without predicates (a predicated load costs a VMSR and a VPST more) */
                    int16x8_t s0 = vdupq_n_s16(0), s1 = vdupq_n_s16(0);
                    const int8_t *row = first + c;
                    for (int32_t ky = 0; ky < nky; ++ky, row += dy) {
                        const int8_t *q = row;
                        for (int32_t kx = 0; kx < nkx; ++kx, q += dx) {
                            s0 = vaddq_s16(s0, vldrbq_s16(q));
                            s1 = vaddq_s16(s1, vldrbq_s16(q + 8));
                        }
                    }
                    vstrbq_s16(out + c, average8(s0, &k));
                    vstrbq_s16(out + c + 8, average8(s1, &k));
                }
                for (; c < C; c += 8) {
                    const mve_pred16_t p = vctp16q((uint32_t)(C - c));
                    int16x8_t s0 = vdupq_n_s16(0);
                    const int8_t *row = first + c;
                    for (int32_t ky = 0; ky < nky; ++ky, row += dy) {
                        const int8_t *q = row;
                        for (int32_t kx = 0; kx < nkx; ++kx, q += dx) {
                            s0 = vaddq_s16(s0, vldrbq_z_s16(q, p));
                        }
                    }
                    vstrbq_p_s16(out + c, average8(s0, &k), p);
                }
            }
        }
    }
}
