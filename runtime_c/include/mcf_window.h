/*
 * mcf_window.h - the part of a sliding window (convolution, pooling) that lies inside the input,
 * written once for the reference kernels and their _fast / _dsp / _mve variants.
 *
 * Along one axis a window of k taps (dilation dil) starts at input index o * stride - pad; the
 * taps that fall inside 0 .. size - 1 form one run. Clipping it once per output row and once per
 * output pixel costs a few steps at the borders only, and the loops over the taps then need no
 * bounds test at all.
 */
#ifndef MCF_WINDOW_H
#define MCF_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"

/* Taps [*k0, *k1) of a k-tap window row or column starting at input index i0 (dilation dil) that
 * fall inside 0 .. n - 1. */
static inline void mcf_taps_inside(int32_t i0, int32_t k, int32_t dil, int32_t n, int32_t *k0, int32_t *k1)
{
    int32_t lo = 0, hi = k;
    while (lo < hi && i0 + lo * dil < 0) {
        ++lo;
    }
    while (hi > lo && i0 + (hi - 1) * dil >= n) {
        --hi;
    }
    *k0 = lo;
    *k1 = hi;
}

/* The taps of one window axis inside the input: k0, k0 + 1, ..., k0 + n - 1 (n = 0: none), the
 * first of them at input index i. */
typedef struct {
    int32_t k0, n, i;
} mcf_span;

static inline mcf_span mcf_span_inside(int32_t i0, int32_t k, int32_t dil, int32_t size)
{
    int32_t k0, k1;
    mcf_taps_inside(i0, k, dil, size, &k0, &k1);
    const mcf_span s = {k0, k1 - k0, i0 + k0 * dil};
    return s;
}

/* The rows of output row oy's windows, and the columns of output column ox's windows. */
static inline mcf_span mcf_window_rows(const mcf_window *w, int32_t oy)
{
    return mcf_span_inside(oy * w->stride_h - w->pad_top, w->k_h, w->dil_h, w->in_h);
}

static inline mcf_span mcf_window_cols(const mcf_window *w, int32_t ox)
{
    return mcf_span_inside(ox * w->stride_w - w->pad_left, w->k_w, w->dil_w, w->in_w);
}

/* Element offset, within one NHWC image in_w pixels wide with C channels, of channel 0 of the
 * window's first cell inside. (C from the caller: a kernel's local copy is not reloaded after
 * every int8 store, as w->in_c would be.) */
static inline ptrdiff_t mcf_window_at(mcf_span ry, mcf_span rx, int32_t in_w, int32_t C)
{
    return ((ptrdiff_t)ry.i * in_w + rx.i) * C;
}

/* Sum and maximum of one int8 channel over the cells inside a window: ny rows dy elements apart,
 * nx columns dx apart, from row (the scalar tails of the pooling variants). */
static inline int32_t mcf_window_sum_s8(int32_t acc, const int8_t *row, int32_t ny, int32_t nx, int32_t dy, int32_t dx)
{
    for (int32_t ky = 0; ky < ny; ++ky, row += dy) {
        const int8_t *p = row;
        for (int32_t kx = 0; kx < nx; ++kx, p += dx) {
            acc += *p;
        }
    }
    return acc;
}

static inline int32_t mcf_window_max_s8(int32_t best, const int8_t *row, int32_t ny, int32_t nx, int32_t dy, int32_t dx)
{
    for (int32_t ky = 0; ky < ny; ++ky, row += dy) {
        const int8_t *p = row;
        for (int32_t kx = 0; kx < nx; ++kx, p += dx) {
            const int32_t v = *p;
            best = v > best ? v : best;
        }
    }
    return best;
}

/* The cells an average divides by: those inside, or (count_include_pad) the whole window. */
static inline int32_t mcf_pool_count(const mcf_window *w, int32_t count_include_pad, int32_t valid)
{
    return count_include_pad ? w->k_h * w->k_w : valid;
}

/* An integer window average with TFLite's rounding (half away from zero). */
static inline int32_t mcf_round_div(int32_t acc, int32_t count)
{
    return acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
}

/* An int8 pooling window with no cell inside (shape inference makes none; the variants keep it
 * defined): every channel the reference kernel's accumulator start v, clamped. */
static inline void mcf_pool_empty_s8(int8_t *out, int32_t C, int32_t v, int32_t lo, int32_t hi)
{
    for (int32_t c = 0; c < C; ++c) {
        out[c] = mcf_sat_s8(v, lo, hi);
    }
}

#endif /* MCF_WINDOW_H */
