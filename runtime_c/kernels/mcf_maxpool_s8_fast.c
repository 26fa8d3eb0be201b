/*
 * int8 max pooling in tuned portable C for cores without SIMD (Cortex-M0 / M3, any C99 target).
 *
 * The portable kernel tests every tap against the borders per channel. Here each output pixel
 * clips its window once (rows ky0..ky1, columns kx0..kx1); the channel loop then only loads and
 * compares, and the first valid cell seeds the maximum (a clipped window is never empty for a
 * real layer; an empty one gives -129 clamped, as the reference). The activation clamp is
 * hoisted: applied once per output. Pixel by pixel and channel by channel, as the reference
 * kernel, so the same in-place overlaps are safe.
 */
#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_variants.h"

void mcf_maxpool_s8_fast(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t C = w->in_c;
    const int32_t dy = w->dil_h * w->in_w * C, dx = w->dil_w * C;
    const int32_t lo = a->act_min, hi = a->act_max;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * C;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const int32_t iy0 = oy * w->stride_h - w->pad_top;
            int32_t ky0 = 0, ky1 = w->k_h;
            while (ky0 < ky1 && iy0 + ky0 * w->dil_h < 0) {
                ++ky0;
            }
            while (ky1 > ky0 && iy0 + (ky1 - 1) * w->dil_h >= w->in_h) {
                --ky1;
            }
            for (int32_t ox = 0; ox < w->out_w; ++ox, out += C) {
                const int32_t ix0 = ox * w->stride_w - w->pad_left;
                int32_t kx0 = 0, kx1 = w->k_w;
                while (kx0 < kx1 && ix0 + kx0 * w->dil_w < 0) {
                    ++kx0;
                }
                while (kx1 > kx0 && ix0 + (kx1 - 1) * w->dil_w >= w->in_w) {
                    --kx1;
                }
                const int32_t nky = ky1 - ky0, nkx = kx1 - kx0;
                if (nky == 0 || nkx == 0) {
                    for (int32_t c = 0; c < C; ++c) {
                        out[c] = mcf_sat_s8(-129, lo, hi);
                    }
                    continue;
                }
                const int8_t *first = in_n + ((ptrdiff_t)(iy0 + ky0 * w->dil_h) * w->in_w + ix0 + kx0 * w->dil_w) * C;
                for (int32_t c = 0; c < C; ++c) {
                    const int8_t *row = first + c;
                    int32_t best = *row;
                    for (int32_t ky = 0; ky < nky; ++ky, row += dy) {
                        const int8_t *p = row;
                        for (int32_t kx = 0; kx < nkx; ++kx, p += dx) {
                            const int32_t v = *p;
                            best = v > best ? v : best;
                        }
                    }
                    best = best < lo ? lo : best;
                    out[c] = (int8_t)(best > hi ? hi : best);
                }
            }
        }
    }
}
