/*
 * mcf_resize.h - resize (nearest, bilinear) and transposed convolution kernels.
 *
 * Resize reads per-axis tables computed at compile time (the coordinate rules live in the
 * compiler): nearest copies input pixel (iy[oy], ix[ox]); bilinear mixes rows y0/y1 and columns
 * x0/x1 with the weights wy / wx of y1 / x1. Transposed convolution takes conv2d's argument
 * struct: win.in_* is the input, win.out_* the output, and (pad_top, pad_left) is where the output
 * window starts inside the full transposed-convolution result.
 */
#ifndef MCF_RESIZE_H
#define MCF_RESIZE_H

#include <stdint.h>

typedef struct {
    int32_t batch, in_h, in_w, out_h, out_w;
    int32_t pixel_bytes;            /* channels * element size */
    const int32_t *iy;              /* [out_h] input row of each output row */
    const int32_t *ix;              /* [out_w] input column of each output column */
} mcf_resize_nearest_args;

void mcf_resize_nearest(const mcf_resize_nearest_args *a, const void *in, void *out);
void mcf_resize_nearest_fast(const mcf_resize_nearest_args *a, const void *in, void *out);

typedef struct {
    int32_t batch, in_h, in_w, out_h, out_w, channels;
    const int32_t *y0, *y1, *x0, *x1;   /* [out_h], [out_h], [out_w], [out_w] */
    const int32_t *wy, *wx;             /* weight of y1 / x1 in units of 1/1024 */
} mcf_resize_bilinear_s8_args;

/* TFLite Micro's ResizeBilinearInteger: the 2^20-scaled sum, rounded half away from zero */
void mcf_resize_bilinear_s8(const mcf_resize_bilinear_s8_args *a, const int8_t *in, int8_t *out);

typedef struct {
    int32_t batch, in_h, in_w, out_h, out_w, channels;
    const int32_t *y0, *y1, *x0, *x1;
    const float *wy, *wx;               /* weight of y1 / x1 */
} mcf_resize_bilinear_f32_args;

void mcf_resize_bilinear_f32(const mcf_resize_bilinear_f32_args *a, const float *in, float *out);

/*
 * Taps of one output coordinate o of a transposed convolution along one axis: input i reaches o
 * through tap k when o + pad = i * stride + k * dil. Those taps are k = k0, k0 + kstep, ... and
 * read i = i0, i0 - di, ... (n of them, all inside the kernel and the input), so the kernels do
 * no division or modulo per tap.
 */
typedef struct {
    int32_t k0, i0, n, kstep, di;
} mcf_ct_taps;

static inline mcf_ct_taps mcf_ct_axis(int32_t o, int32_t pad, int32_t stride, int32_t dil, int32_t k, int32_t in)
{
    mcf_ct_taps t = {0, 0, 0, 1, 0};
    int32_t g = stride, r = dil;              /* kstep = stride / gcd(stride, dil) */
    while (r != 0) {
        const int32_t tmp = g % r;
        g = r;
        r = tmp;
    }
    t.kstep = stride / g;
    t.di = t.kstep * dil / stride;
    const int32_t target = o + pad;
    for (int32_t kk = 0; kk < t.kstep && kk < k; ++kk) {
        const int32_t rest = target - kk * dil;
        if (rest >= 0 && rest % stride == 0) {
            t.k0 = kk;
            t.i0 = rest / stride;
            /* first tap whose input lies inside: i0 - s * di < in */
            int32_t skip = t.i0 >= in ? (t.i0 - in) / t.di + 1 : 0;
            const int32_t last_k = (k - 1 - kk) / t.kstep;           /* taps inside the kernel */
            const int32_t last_i = t.i0 / t.di;                      /* taps with i >= 0 */
            const int32_t last = last_k < last_i ? last_k : last_i;
            t.n = last >= skip ? last - skip + 1 : 0;
            t.k0 += skip * t.kstep;
            t.i0 -= skip * t.di;
            return t;
        }
    }
    return t;
}

void mcf_conv_transpose2d_s8(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_conv_transpose2d_s8_dsp(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_conv_transpose2d_f32(const mcf_conv2d_f32_args *a, const float *in, float *out);

#endif /* MCF_RESIZE_H */
