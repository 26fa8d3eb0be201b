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

void mcf_conv_transpose2d_s8(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_conv_transpose2d_f32(const mcf_conv2d_f32_args *a, const float *in, float *out);

#endif /* MCF_RESIZE_H */
