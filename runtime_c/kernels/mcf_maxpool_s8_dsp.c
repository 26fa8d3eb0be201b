/*
 * int8 max pooling over NHWC windows for cores with the DSP extension (Cortex-M4, M7, M33, M55).
 *
 * Four channels per 32-bit word: SSUB8 sets the GE flag of each byte lane where the new value is
 * >= the running maximum and SEL takes those lanes, so a tap costs LDR + SSUB8 + SEL for four
 * channels. The valid part of the window (padded cells never win) is computed once per pixel; the
 * activation clamp is two more SSUB8/SEL pairs. Pixel by pixel, channels in order (groups of 4),
 * as the reference kernel, so the same in-place overlaps are safe.
 */
#include <arm_acle.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"
#include "mcf_window.h"

void mcf_maxpool_s8_dsp(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c;
    const uint32_t lo4 = 0x01010101u * (uint8_t)a->act_min, hi4 = 0x01010101u * (uint8_t)a->act_max;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * C;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const mcf_span ry = mcf_window_rows(w, oy);
            for (int32_t ox = 0; ox < w->out_w; ++ox, out += C) {
                const mcf_span rx = mcf_window_cols(w, ox);
                /* no valid cell: the reference's -129, clamped (`<= 0` tells GCC the tap loops below run
                 * at least once, which saves their entry tests: 6% fewer instructions on the M4) */
                if (ry.n <= 0 || rx.n <= 0) {
                    mcf_pool_empty_s8(out, C, -129, a->act_min, a->act_max);
                    continue;
                }
                const int8_t *first = in_n + mcf_window_at(ry, rx, w->in_w, C);
                const int32_t dy = w->dil_h * w->in_w * C, dx = w->dil_w * C;
                int32_t c = 0;
                for (; c + 4 <= C; c += 4) {
                    const int8_t *row = first + c;
                    uint32_t best = (uint32_t)mcf_rd32(row);
                    for (int32_t ky = 0; ky < ry.n; ++ky, row += dy) {
                        const int8_t *p = row;
                        for (int32_t kx = 0; kx < rx.n; ++kx, p += dx) {
                            best = mcf_max4_s8((uint32_t)mcf_rd32(p), best);
                        }
                    }
                    best = mcf_max4_s8(best, lo4);
                    best = mcf_min4_s8(best, hi4);
                    mcf_wr32(out + c, (int32_t)best);
                }
                for (; c < C; ++c) {
                    const int32_t best = mcf_window_max_s8(-128, first + c, ry.n, rx.n, dy, dx);
                    out[c] = mcf_sat_s8(best, a->act_min, a->act_max);
                }
            }
        }
    }
}
