/*
 * mcf_train.h - kernels of the on-device training step (backward and update ops).
 *
 * Numerics (the contract the golden model keeps, compiler/mcuforge/reference/train_kernels.py):
 * gradients are float32 in both training modes. An operand may be an int8 tensor (a saved int8
 * activation, an int8 weight): it is read as float32 value (float)(q - zp) * scale, which is
 * bit for bit what dequantizing it first gives. Every reduction adds in float32, one term at a
 * time, in the order each kernel's comment states; products are formed as written (no fused
 * multiply-add: compile with -ffp-contract=off). exp and log come from mcf_train_math.h, whose
 * float32 operations numpy repeats, so no libm result can differ between golden model and device.
 */
#ifndef MCF_TRAIN_H
#define MCF_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "mcf_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A read-only tensor that kernels see as float32: float data, or int8 data with a zero point
 * and a scale per tensor (scale_dim 0) or per index of one axis (scale_dim = that axis' stride,
 * scale_len = its length: channel = (i / scale_dim) % scale_len). */
typedef struct {
    const float *f32;        /* float data, or NULL */
    const int8_t *s8;        /* int8 data when f32 is NULL */
    int32_t zp;
    const float *scale;      /* int8 only: scale_len scales */
    int32_t scale_dim;
    int32_t scale_len;
} mcf_fsrc;

static inline float mcf_fsrc_at(const mcf_fsrc *s, size_t i)
{
    if (s->f32) {
        return s->f32[i];
    }
    const float q = (float)((int32_t)s->s8[i] - s->zp);
    const int32_t ch = s->scale_dim > 0 ? (int32_t)((i / (size_t)s->scale_dim) % (size_t)s->scale_len) : 0;
    return q * s->scale[ch];
}

/* Weight gradient of a (grouped) convolution: dW[oc,ky,kx,icg] = sum over n, oy, ox (in that
 * order) of dY[n,oy,ox,oc] * X[n,iy,ix,ic]; taps in the padding are skipped. Only the first
 * out_rows output channels (a partial-channel update) are computed; dW holds out_rows rows.
 * win describes the forward convolution (in = X, out = dY). */
typedef struct {
    mcf_window win;
    int32_t groups;
    int32_t out_rows;
} mcf_conv_grad_args;
void mcf_conv2d_wgrad(const mcf_conv_grad_args *a, const mcf_fsrc *x, const float *dy, float *dw);

/* Input gradient of a (grouped) convolution with OHWI weights W (the forward's own layout, so
 * weights trained in RAM need no transposed copy): dX[n,iy,ix,ic] = sum over ky, kx, then the
 * group's output channels oc, of dY[n,oy,ox,oc] * W[oc,ky,kx,icg] for every tap that lands on
 * (iy, ix). out_rows is ignored (all output channels take part). */
void mcf_conv2d_igrad(const mcf_conv_grad_args *a, const float *dy, const mcf_fsrc *w, float *dx);

/* Average-pool backward: every window's gradient, divided by its count (padding counted only
 * with count_include_pad), is added to the inputs it covered; windows in output order (n, oy,
 * ox), then ky, kx. dX is zeroed first. A global mean is the window that covers the input. */
typedef struct {
    mcf_window win;
    int32_t count_include_pad;
} mcf_pool_grad_args;
void mcf_avgpool_backward(const mcf_pool_grad_args *a, const float *dy, float *dx);

/* Activation backward from the saved forward output y (relu, relu6, clip): dX = dY where
 * lo < y < hi, else 0 (hi/lo in y's own units: int8 levels or float). */
typedef struct {
    int32_t size;
    float lo_f, hi_f;        /* float y */
    int32_t lo_q, hi_q;      /* int8 y */
} mcf_act_grad_args;
void mcf_act_backward_f32(const mcf_act_grad_args *a, const float *y, const float *dy, float *dx);
void mcf_act_backward_s8(const mcf_act_grad_args *a, const int8_t *y, const float *dy, float *dx);

/* out[o, i] = sum over m (ascending) of in[o, m, i]: any set of adjacent axes (a bias gradient
 * sums N, H, W of an NHWC tensor: outer 1, mid N*H*W, inner C). */
typedef struct {
    int32_t outer, mid, inner;
} mcf_sum_args;
void mcf_reduce_sum_f32(const mcf_sum_args *a, const float *in, float *out);

/* out[o, m, i] = in[o, i] * scale: the gradient of a sum (scale 1) or mean (1/mid) broadcast
 * back over the reduced axes. */
void mcf_broadcast_sum_f32(const mcf_sum_args *a, float scale, const float *in, float *out);

/* Softmax cross-entropy of logits z (batch rows of `classes`) and integer labels:
 * loss = mean over rows of (log(sum_j exp(z_j - max)) - (z_label - max)), sums over j ascending;
 * dZ = (exp(z_j - max) / sum - onehot) / batch. z may be int8 (dequantized as mcf_fsrc says). */
typedef struct {
    int32_t batch, classes;
} mcf_xent_args;
float mcf_softmax_xent(const mcf_xent_args *a, const mcf_fsrc *z, const int32_t *labels, float *dz);

/* Mean squared error: loss = sum_i (y_i - t_i)^2 / n (ascending i), dY_i = (y_i - t_i) * (2 / n). */
float mcf_mse(int32_t n, const mcf_fsrc *y, const float *t, float *dy);

/* SGD with momentum, in place, PyTorch's rule: g = grad * gscale[ch] (QAS or unit conversion;
 * gscale NULL = 1), v = momentum * v + g (v NULL: no momentum, v = g), p -= lr * v.
 * ch = (i / ch_stride) % channels. int8 and int32 parameters take the rounded new value
 * (floor(p - lr * v + 0.5), computed in float32) saturated to [-127, 127] / the int32 range;
 * int32 parameters are limited to |p| < 2^24 so float32 holds them exactly. */
typedef struct {
    int32_t size;
    int32_t channels, ch_stride;
    float lr, momentum;
    const float *gscale;
} mcf_sgd_args;
void mcf_sgd_f32(const mcf_sgd_args *a, const float *grad, float *v, float *p);
void mcf_sgd_s8(const mcf_sgd_args *a, const float *grad, float *v, int8_t *p);
void mcf_sgd_s32(const mcf_sgd_args *a, const float *grad, float *v, int32_t *p);

#ifdef __cplusplus
}
#endif

#endif /* MCF_TRAIN_H */
