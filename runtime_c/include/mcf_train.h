/*
 * mcf_train.h - kernels of the on-device training step (backward and update ops).
 *
 * Numerics: docs/training.md; the golden models are the ops in compiler/mcuforge/ir/ops/train_*.py.
 * Gradients are float32 in both training modes. An operand may be an int8 tensor (a saved int8
 * activation, an int8 weight): it is read as float32 value (float)(q - zp) * scale, which is
 * bit for bit what dequantizing it first gives. Every reduction adds in float32, one term at a
 * time, in the order each kernel's comment states; products are formed as written (no fused
 * multiply-add: compile with -ffp-contract=off). exp and log come from mcf_train_math.h, whose
 * float32 operations train/fmath.py repeats, so no libm result can differ between golden model and device.
 */
#ifndef MCF_TRAIN_H
#define MCF_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "mcf_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A read-only tensor that kernels see as float32: float data, or int8 data (possibly in two
 * pieces, head and rest) with a zero point and a scale per tensor (scale_dim 0) or per index of one axis (scale_dim = that axis' stride,
 * scale_len = its length: channel = (i / scale_dim) % scale_len). */
typedef struct {
    const float *f32;        /* float data, or NULL */
    const int8_t *s8;        /* int8 data when f32 is NULL (the elements after the head, if any) */
    int32_t zp;
    const float *scale;      /* int8 only: scale_len scales */
    int32_t scale_dim;
    int32_t scale_len;
    const int8_t *s8_head;   /* int8: elements [0, head_len) live here (a weight's trained rows in */
    int32_t head_len;        /* RAM, the frozen rest in flash at s8); 0: s8 holds everything */
} mcf_fsrc;

static inline float mcf_fsrc_at(const mcf_fsrc *s, size_t i)
{
    if (s->f32) {
        return s->f32[i];
    }
    const int8_t v = i < (size_t)s->head_len ? s->s8_head[i] : s->s8[i - (size_t)s->head_len];
    const float q = (float)((int32_t)v - s->zp);
    const int32_t ch = s->scale_dim > 0 ? (int32_t)((i / (size_t)s->scale_dim) % (size_t)s->scale_len) : 0;
    return q * s->scale[ch];
}

/* The window position whose tap k lands on input index i (one axis of a forward window op):
 * 1 and *o = that output index, or 0 when no output position does (padding, stride, edge). */
static inline int mcf_tap_source(int32_t i, int32_t pad, int32_t k, int32_t dil, int32_t stride, int32_t out_len,
                                 int32_t *o)
{
    const int32_t t = i + pad - k * dil;
    if (t < 0 || t % stride != 0 || t / stride >= out_len) {
        return 0;
    }
    *o = t / stride;
    return 1;
}

/* Weight gradient of a (grouped) convolution: dW[oc,ky,kx,icg] = sum over n, oy, ox (in that
 * order) of dY[n,oy,ox,oc] * X[n,iy,ix,ic]; taps in the padding are skipped. Only the first
 * out_rows output channels (a partial-channel update) are computed, from row0 on (0 unless one
 * row is made at a time); dW holds out_rows - row0 rows.
 * win describes the forward convolution (in = X, out = dY). */
typedef struct {
    mcf_window win;
    int32_t groups;
    int32_t out_rows;
    int32_t row0;            /* wgrad: first output channel computed (rows row0 .. out_rows - 1) */
} mcf_conv_grad_args;
void mcf_conv2d_wgrad(const mcf_conv_grad_args *a, const mcf_fsrc *x, const float *dy, float *dw);

/* Input gradient of a (grouped) convolution with OHWI weights W (the forward's own layout, so
 * weights trained in RAM need no transposed copy): dX[n,iy,ix,ic] = sum over ky, kx, then the
 * group's output channels oc, of dY[n,oy,ox,oc] * W[oc,ky,kx,icg] for every tap that lands on
 * (iy, ix). out_rows is ignored (all output channels take part). */
void mcf_conv2d_igrad(const mcf_conv_grad_args *a, const float *dy, const mcf_fsrc *w, float *dx);

/* Average-pool backward (avgpool_grad): dX[n,iy,ix,c] = sum over the windows holding the element,
 * in the order of the tap landing on it (ky ascending, then kx), of dY[n,oy,ox,c] / count, where
 * count is the window's element count as the forward took it (padding only with
 * count_include_pad). A global mean is the window that covers the input. */
typedef struct {
    mcf_window win;
    int32_t count_include_pad;
} mcf_pool_grad_args;
void mcf_avgpool_backward(const mcf_pool_grad_args *a, const float *dy, float *dx);

/* Activation backward (act_grad) from the saved forward output y: dX = dY where lo < y < hi,
 * else 0; bounds in y's own units (int8 levels or float; -INFINITY / INFINITY or -129 / 128
 * for a bound the activation does not have). */
typedef struct {
    int32_t size;
    float lo_f, hi_f;        /* float y */
    int32_t lo_q, hi_q;      /* int8 y */
} mcf_act_grad_args;
void mcf_act_backward_f32(const mcf_act_grad_args *a, const float *y, const float *dy, float *dx);
void mcf_act_backward_s8(const mcf_act_grad_args *a, const int8_t *y, const float *dy, float *dx);

/* grad_sum: out[o, i] = sum over m (ascending, from 0.0f) of in[o, m, i] for i < keep (a bias
 * gradient of an NHWC tensor: outer 1, mid N*H*W, inner C, keep = trained rows). */
typedef struct {
    int32_t outer, mid, inner, keep;
} mcf_sum_args;
void mcf_reduce_sum_f32(const mcf_sum_args *a, const float *in, float *out);

/* mean_grad: out[o, m, i] = in[o, i] / divisor (keep unused). */
void mcf_broadcast_div_f32(const mcf_sum_args *a, float divisor, const float *in, float *out);

/* grad_add: out = a + b elementwise. */
void mcf_grad_add_f32(int32_t size, const float *a, const float *b, float *out);

/* softmax_xent: logits z (batch rows of `classes`) and integer labels; per row
 * m = max z, e_j = exp(z_j - m), S = sum_j e_j (ascending), loss_row = log(S) - (z_label - m),
 * dZ_j = (e_j / S - onehot_j) / batch; the loss is the rows' sum (ascending) / batch (batch 1:
 * both divisions are exact). z may be int8 (dequantized as mcf_fsrc says). */
typedef struct {
    int32_t batch, classes;
} mcf_xent_args;
float mcf_softmax_xent(const mcf_xent_args *a, const mcf_fsrc *z, const int32_t *labels, float *dz);

/* mse_loss: loss = (sum_i (y_i - t_i)^2, ascending) / n, dY_i = (y_i - t_i) * (2 / n). */
float mcf_mse(int32_t n, const mcf_fsrc *y, const float *t, float *dy);

/* sgd_update, in place, on the first `rows` rows (row_size elements each):
 * g = grad * grad_scale[row]; with momentum m = mu * m, m = m + g, g = m;
 * master = master - lr * g (master NULL: no master copy, the value starts from (float)param);
 * then param = master (float32) or the master rounded half away from zero and clamped to
 * [clamp_lo, clamp_hi] (int8 / int32 parameter). */
enum { MCF_PARAM_F32 = 0, MCF_PARAM_S8 = 1, MCF_PARAM_S32 = 2 };
typedef struct {
    int32_t rows, row_size;
    float lr, momentum;
    const float *grad_scale;     /* rows factors */
    int32_t param_kind;          /* MCF_PARAM_* */
    int32_t clamp_lo, clamp_hi;
} mcf_sgd_args;
void mcf_sgd_update(const mcf_sgd_args *a, const float *grad, float *master, float *momentum, void *param);

/* A weight gradient applied as it is made (wgrad_update): for each trained row r, the row's
 * gradient (mcf_conv2d_wgrad with row0 = r, out_rows = r + 1) goes into `row` (u->row_size
 * floats) and mcf_sgd_update applies it to row r of master / momentum / param at once. */
void mcf_wgrad_sgd_update(const mcf_conv_grad_args *ga, const mcf_sgd_args *u, const mcf_fsrc *x, const float *dy,
                          float *master, float *momentum, void *param, float *row);

/* The backward of a head, fused (mean_pw_grad): global mean backward, the mask of the
 * activation fused into a 1x1 convolution (y = its saved output) and that convolution's bias,
 * weight and input gradients, without storing the gradient at its output. Per pixel p (batch and
 * pixels ascending) and channel c: g = dmean[n, c] / pixels where lo < y[p, c] < hi (else 0,
 * and skipped: adding a zero term changes no sum); db[c] += g for c < bias_rows,
 * dw[c, i] += g * x[p, i] for c < weight_rows, dx[p, i] += g * w[c, i] (c ascending). Outputs
 * a NULL pointer names are not computed; y NULL: no mask. */
typedef struct {
    int32_t batch, pixels, channels;   /* y and the mean's input: N, H*W, C */
    int32_t in_c;                      /* the convolution's input channels (x, dx, w rows) */
    int32_t bias_rows, weight_rows;
    float lo_f, hi_f;                  /* float y */
    int32_t lo_q, hi_q;                /* int8 y */
} mcf_mean_pw_grad_args;
void mcf_mean_pw_grad(const mcf_mean_pw_grad_args *a, const float *dmean, const float *y_f32, const int8_t *y_s8,
                      const mcf_fsrc *w, const mcf_fsrc *x, float *db, float *dw, float *dx);

/* A frozen int8 pointwise convolution and the depthwise convolution reading its output, fused:
 * the depthwise's output rows are made one at a time from the (at most k_h) pointwise rows they
 * need, held in `rows` (k_h * dw->win.in_w * dw->win.in_c bytes). */
void mcf_fused_pw_dw_s8(const mcf_conv2d_s8_args *pw, const mcf_conv2d_s8_args *dw, const int8_t *in,
                        int8_t *out, int8_t *rows);

#ifdef __cplusplus
}
#endif

#endif /* MCF_TRAIN_H */
