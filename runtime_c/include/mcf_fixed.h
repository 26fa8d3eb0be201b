/*
 * mcf_fixed.h - the `fixed` contract in C (compiler/mcuforge/reference/fixed_arith.py): every
 * tensor is a raw two's-complement integer r meaning r * 2^-F. A change of binary point is a shift
 * whose dropped bits follow the tensor's rounding mode (truncate = floor like AP_TRN, round half up
 * like AP_RND, round half to even like AP_RND_CONV / QONNX ROUND), then its overflow mode
 * (saturate like AP_SAT, or keep the low W bits like AP_WRAP), then the fused activation clamp:
 * the same steps in the same order as the golden model, HLS ap_fixed and the Verilog requantizer.
 *
 * Activations are stored int8 (W <= 8 bits), weights int8, biases int32 at the accumulator's
 * binary point. The compiler proves every accumulator fits 32 bits (W_x + W_w + log2(terms + 1)).
 */
#ifndef MCF_FIXED_H
#define MCF_FIXED_H

#include <stddef.h>
#include <stdint.h>

#include "mcf_kernels.h"

enum { MCF_FX_TRN = 0, MCF_FX_RND = 1, MCF_FX_RNE = 2 };

/* Accumulator (binary point F_acc) -> output (F_out, W bits): shift = F_acc - F_out. */
typedef struct {
    int32_t shift;
    int32_t rounding;   /* MCF_FX_TRN, MCF_FX_RND or MCF_FX_RNE */
    int32_t saturate;   /* 1: clamp to the W-bit range; 0: keep the low W bits */
    int32_t width;      /* W */
    int32_t act_lo, act_hi;  /* fused activation, raw bounds in the output grid */
} mcf_fx_requant;

static inline int32_t mcf_fx_cast(int64_t acc, const mcf_fx_requant *q)
{
    int64_t r = acc;
    const int32_t s = q->shift;
    if (s > 0) {
        if (q->rounding == MCF_FX_RND) {
            r += (int64_t)1 << (s - 1);
        } else if (q->rounding == MCF_FX_RNE) {  /* half - 1, plus one when the floor is odd */
            r += (((int64_t)1 << (s - 1)) - 1) + ((r >> s) & 1);
        }
        r >>= s;  /* arithmetic shift: floor */
    } else if (s < 0) {
        r *= (int64_t)1 << -s;  /* widening: exact */
    }
    const int64_t hi = ((int64_t)1 << (q->width - 1)) - 1, lo = -hi - 1;
    if (q->saturate) {
        r = r > hi ? hi : (r < lo ? lo : r);
    } else {
        const uint64_t low = (uint64_t)r & (uint64_t)(((int64_t)1 << q->width) - 1);
        r = low > (uint64_t)hi ? (int64_t)low - ((int64_t)1 << q->width) : (int64_t)low;
    }
    r = r < q->act_lo ? q->act_lo : (r > q->act_hi ? q->act_hi : r);
    return (int32_t)r;
}

/* sum over i < n of x[i] * w[i0 + i]. K-hot weights (each a sum of at most `khot` signed powers of
 * two; codes != NULL): khot bytes per weight, 0 (no term) or 0x80 | negative << 6 | shift, and
 * the products are shifts and adds. On a core with a one-cycle multiplier this is slower (see
 * docs/qfx.md), so the compiler emits codes only on request. */
static inline int32_t mcf_fx_dot(const int8_t *x, const int8_t *w, const uint8_t *codes, int32_t khot,
                                 size_t i0, int32_t n)
{
    int32_t acc = 0;
    if (codes == NULL) {
        for (int32_t i = 0; i < n; ++i) {
            acc += (int32_t)x[i] * (int32_t)w[i0 + i];
        }
        return acc;
    }
    const uint8_t *c = codes + i0 * (size_t)khot;
    for (int32_t i = 0; i < n; ++i) {
        for (int32_t k = 0; k < khot; ++k, ++c) {
            if (*c & 0x80u) {
                const int32_t t = (int32_t)((uint32_t)(int32_t)x[i] << (*c & 0x1fu));
                acc += (*c & 0x40u) ? -t : t;
            }
        }
    }
    return acc;
}

/* Max (is_max) or sum of every window of an NHWC tensor: padding never wins a max and adds 0 to a
 * sum; out receives one int32 per output element, handed to `emit`. */
static inline void mcf_fx_pool(const mcf_window *w, const int8_t *in, int is_max,
                               void (*emit)(const void *ctx, int64_t v, int8_t *dst), const void *ctx, int8_t *out)
{
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                for (int32_t c = 0; c < w->in_c; ++c) {
                    int64_t r = is_max ? INT32_MIN : 0;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = oy * w->stride_h - w->pad_top + ky * w->dil_h;
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            const int32_t ix = ox * w->stride_w - w->pad_left + kx * w->dil_w;
                            if (iy >= 0 && iy < w->in_h && ix >= 0 && ix < w->in_w) {
                                const int32_t v = in_n[((size_t)iy * w->in_w + ix) * w->in_c + c];
                                r = is_max ? (v > r ? v : r) : r + v;
                            }
                        }
                    }
                    emit(ctx, r, out++);
                }
            }
        }
    }
}

/* conv2d (groups: 1, depthwise or any grouping), weights [out_c][k_h][k_w][in_c / groups]. */
typedef struct {
    mcf_window win;
    int32_t groups;
    const int8_t *weights;
    const int32_t *bias;  /* NULL: none */
    mcf_fx_requant rq;
    const uint8_t *codes;  /* K-hot: khot codes per weight instead of weights (NULL: weights) */
    int32_t khot;
} mcf_fx_conv2d_args;

/* fully connected: rows x in_features -> rows x out_features, weights [out][in]. */
typedef struct {
    int32_t rows, in_features, out_features;
    const int8_t *weights;
    const int32_t *bias;
    mcf_fx_requant rq;
    const uint8_t *codes;  /* K-hot codes (NULL: weights) */
    int32_t khot;
} mcf_fx_dense_args;

/* add / subtract of two same-shape tensors: both move to the finer binary point (left shifts),
 * then one cast. */
typedef struct {
    int32_t size;
    int32_t a_shift, b_shift;
    int32_t subtract;
    mcf_fx_requant rq;
} mcf_fx_add_args;

/* max pooling (padding never wins; the output keeps the input's type) and the clamp of a relu /
 * clip that could not be fused. */
typedef struct {
    mcf_window win;
    int32_t act_lo, act_hi;
} mcf_fx_maxpool_args;

/* average pooling over windows of one power-of-two count: sum, then one cast. */
typedef struct {
    mcf_window win;
    mcf_fx_requant rq;
} mcf_fx_avgpool_args;

typedef struct {
    int32_t size, act_lo, act_hi;
} mcf_fx_clamp_args;

/* hardswish x * clamp(x + 3, 0, 6) / 6 rounded exactly (reference/fixed_arith.py): x moves up by
 * `up` bits to F1 = max(F_x, 0), where 3 and 6 are `three` and `six`; n = x * t << n_shift (at most
 * 32 bits, checked by the compiler); z = 2 floor(n / 3) + (n mod 3 != 0) is cast with rq. */
typedef struct {
    int32_t size;
    int32_t up, three, six, n_shift;
    mcf_fx_requant rq;
} mcf_fx_hardswish_args;

/* concat: for each of `outer` blocks, chunk[i] elements of input i, each cast to the output type
 * with rq[i] (inputs on different binary points). */
typedef struct {
    int32_t outer, n_inputs;
    const int32_t *chunk;
    const mcf_fx_requant *rq;
} mcf_fx_concat_args;

void mcf_fx_conv2d(const mcf_fx_conv2d_args *a, const int8_t *in, int8_t *out);
void mcf_fx_dense(const mcf_fx_dense_args *a, const int8_t *in, int8_t *out);
void mcf_fx_add(const mcf_fx_add_args *a, const int8_t *x, const int8_t *y, int8_t *out);
void mcf_fx_maxpool(const mcf_fx_maxpool_args *a, const int8_t *in, int8_t *out);
void mcf_fx_avgpool(const mcf_fx_avgpool_args *a, const int8_t *in, int8_t *out);
void mcf_fx_clamp(const mcf_fx_clamp_args *a, const int8_t *in, int8_t *out);
void mcf_fx_hardswish(const mcf_fx_hardswish_args *a, const int8_t *in, int8_t *out);
void mcf_fx_concat(const mcf_fx_concat_args *a, const void *const *inputs, int8_t *out);

#endif
