/*
 * int8 max pooling over NHWC windows for Cortex-M55 (Helium / MVE).
 *
 * Sixteen channels per vector: a window cell is one VLDRB + one VMAX for 16 channels; the lanes
 * start at act_min, so the activation clamp is one VMIN. The last (C mod 16) channels run the
 * same loop under a tail predicate (VCTP), so no lane reads or writes past the pixel. The valid
 * part of the window (padded cells never win) is computed once per pixel. Pixel by pixel, as the
 * reference kernel, so the same in-place overlaps are safe.
 */
#include <arm_mve.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_window.h"

void mcf_maxpool_s8_mve(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c;
    const int8x16_t lo = vdupq_n_s8((int8_t)a->act_min), hi = vdupq_n_s8((int8_t)a->act_max);
    const int32_t dy = w->dil_h * w->in_w * C, dx = w->dil_w * C;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * C;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const mcf_span ry = mcf_window_rows(w, oy);
            for (int32_t ox = 0; ox < w->out_w; ++ox, out += C) {
                const mcf_span rx = mcf_window_cols(w, ox);
                const int32_t nky = ry.n, nkx = rx.n;
                /* no valid cell: the reference kernel's -129 saturates to act_min; the lanes start
                 * at act_min anyway, which is the clamp's lower bound */
                const int8_t *first = in_n + mcf_window_at(ry, rx, w->in_w, C);
                int32_t c = 0;
                for (; c + 16 <= C; c += 16) {
                    /* full blocks without predicates (a predicated load costs a VMSR and a VPST more) */
                    int8x16_t best = lo;
                    const int8_t *row = first + c;
                    for (int32_t ky = 0; ky < nky; ++ky, row += dy) {
                        const int8_t *q = row;
                        for (int32_t kx = 0; kx < nkx; ++kx, q += dx) {
                            best = vmaxq_s8(best, vldrbq_s8(q));
                        }
                    }
                    vstrbq_s8(out + c, vminq_s8(best, hi));
                }
                if (c < C) {
                    const mve_pred16_t p = vctp8q((uint32_t)(C - c));
                    int8x16_t best = lo;
                    const int8_t *row = first + c;
                    for (int32_t ky = 0; ky < nky; ++ky, row += dy) {
                        const int8_t *q = row;
                        for (int32_t kx = 0; kx < nkx; ++kx, q += dx) {
                            best = vmaxq_s8(best, vldrbq_z_s8(q, p));
                        }
                    }
                    vstrbq_p_s8(out + c, vminq_s8(best, hi), p);
                }
            }
        }
    }
}
