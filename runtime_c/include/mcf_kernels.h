/*
 * mcf_kernels.h - argument structs and entry points of the mcuforge kernel library.
 *
 * One kernel per file in runtime_c/kernels/. Layouts: activations NHWC, convolution weights
 * [out_c][k_h][k_w][in_c / groups], fully connected weights [out_features][in_features].
 * Suffix _s8: int8 contract (TFLite quantization spec); _f32: float32.
 */
#ifndef MCF_KERNELS_H
#define MCF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define MCF_MAX_DIMS 6

/* Row `row` (row_len weights) of a weight tensor whose first head_rows rows live apart, at
 * head (trained rows in RAM), and the rest at w (frozen rows in flash); head_rows 0: w alone. */
static inline const int8_t *mcf_weight_row(const int8_t *w, const int8_t *head, int32_t head_rows, int32_t row,
                                           size_t row_len)
{
    return row < head_rows ? head + (size_t)row * row_len : w + (size_t)(row - head_rows) * row_len;
}

/* Geometry of a sliding window over an NHWC tensor (convolution and pooling). */
typedef struct {
    int32_t batch;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t dil_h, dil_w;
    int32_t pad_top, pad_left;
} mcf_window;

/* Per-output-channel requantization of int32 accumulators to int8. */
typedef struct {
    int32_t in_zp, out_zp;
    int32_t act_min, act_max;      /* fused activation, in the output's int8 grid */
    const int32_t *mult;           /* [channels] Q31 multipliers */
    const int32_t *shift;          /* [channels] power-of-two exponents */
} mcf_requant_s8;

typedef struct {
    mcf_window win;
    int32_t groups;
    const int8_t *weights;
    const int32_t *bias;           /* [out_c] or NULL */
    mcf_requant_s8 rq;
    /* set for optimized variants only (NULL for the portable kernel): */
    const void *packed_weights;    /* weights reordered / widened at compile time for the variant */
    const int32_t *packed_quant;   /* per-channel constants folded at compile time (bias, zero point, requantization) */
    void *scratch;                 /* the layer's scratch buffer, planned in the arena */
    /* portable kernels only: rows [0, head_rows) of the weights are read from weights_head,
     * the others from weights (row oc at weights + (oc - head_rows) * row length); a training
     * step keeps only a partially trained weight's trained rows in RAM (mcf_weight_row) */
    const int8_t *weights_head;
    int32_t head_rows;
} mcf_conv2d_s8_args;

void mcf_conv2d_s8(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);

typedef struct {
    int32_t rows, in_features, out_features;
    const int8_t *weights;
    const int32_t *bias;
    mcf_requant_s8 rq;
    /* set for optimized variants only (NULL for the portable kernel): */
    const void *packed_weights;    /* weights reordered / widened at compile time for the variant */
    const int32_t *packed_quant;   /* per-channel constants folded at compile time (bias, zero point, requantization) */
    void *scratch;                 /* the layer's scratch buffer, planned in the arena */
    const int8_t *weights_head;    /* as in mcf_conv2d_s8_args */
    int32_t head_rows;
} mcf_fully_connected_s8_args;

void mcf_fully_connected_s8(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out);

/* Broadcasting over up to MCF_MAX_DIMS dims: strides in elements, 0 on broadcast dims. */
typedef struct {
    int32_t rank;
    int32_t out_shape[MCF_MAX_DIMS];
    int32_t a_strides[MCF_MAX_DIMS];
    int32_t b_strides[MCF_MAX_DIMS];
    int32_t size;                  /* number of output elements */
    int32_t same_shape;            /* 1: no broadcasting, one flat loop */
} mcf_broadcast;

typedef struct {
    mcf_broadcast bc;
    int32_t in1_zp, in2_zp, out_zp;
    int32_t left_shift;
    int32_t in1_mult, in1_shift, in2_mult, in2_shift, out_mult, out_shift;
    int32_t act_min, act_max;
    int32_t subtract;              /* 1: a - b */
} mcf_add_s8_args;

void mcf_add_s8(const mcf_add_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out);

typedef struct {
    mcf_broadcast bc;
    int32_t in1_zp, in2_zp, out_zp;
    int32_t mult, shift;
    int32_t act_min, act_max;
} mcf_mul_s8_args;

void mcf_mul_s8(const mcf_mul_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out);

typedef struct {
    mcf_window win;
    int32_t act_min, act_max;
    int32_t count_include_pad;
    int32_t pad_value;             /* avg pool with count_include_pad: the zero point */
} mcf_pool_s8_args;

void mcf_maxpool_s8(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out);
void mcf_avgpool_s8(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out);

typedef struct {
    int32_t outer, axis_len, inner;
    const int32_t *exp_table;      /* [256] exp of the scaled difference -d, 0 below diff_min */
} mcf_softmax_s8_args;

void mcf_softmax_s8(const mcf_softmax_s8_args *a, const int8_t *in, int8_t *out);

typedef struct {
    int32_t size;
    const int8_t *table;           /* [256], indexed by x + 128 */
} mcf_lut_s8_args;

void mcf_lut_s8(const mcf_lut_s8_args *a, const int8_t *in, int8_t *out);

/* ---- data movement, any element size ---------------------------------------------------- */
typedef struct {
    int32_t outer;                 /* product of dims before the axis */
    int32_t n_inputs;
    const int32_t *chunk_bytes;    /* [n_inputs]: bytes of each input per outer index */
} mcf_concat_args;

void mcf_concat(const mcf_concat_args *a, const void *const *inputs, void *out);

typedef struct {
    int32_t rank, elem_size;
    int32_t out_shape[MCF_MAX_DIMS];
    int32_t in_strides[MCF_MAX_DIMS];   /* input stride (elements) of each output dim */
} mcf_transpose_args;

void mcf_transpose(const mcf_transpose_args *a, const void *in, void *out);

typedef struct {
    int32_t rank, elem_size;
    int32_t in_shape[MCF_MAX_DIMS];
    int32_t out_shape[MCF_MAX_DIMS];
    int32_t pad_before[MCF_MAX_DIMS];
    const void *fill;                   /* one element (mode MCF_PAD_CONSTANT) */
    int32_t mode;                       /* MCF_PAD_CONSTANT, MCF_PAD_EDGE or MCF_PAD_REFLECT */
} mcf_pad_args;

#define MCF_PAD_CONSTANT 0
#define MCF_PAD_EDGE 1
#define MCF_PAD_REFLECT 2

void mcf_pad(const mcf_pad_args *a, const void *in, void *out);

void mcf_copy(const void *in, void *out, int32_t nbytes);

/* A strided view of the input copied out densely: slice (negative steps too), split, gather with
 * evenly spaced indices, broadcast (stride 0), tile. Offsets and strides in bytes; each output
 * position copies run_bytes contiguous bytes (the merged innermost contiguous dims). */
typedef struct {
    int32_t rank, run_bytes, in_offset;
    int32_t out_shape[MCF_MAX_DIMS];
    int32_t in_strides[MCF_MAX_DIMS];
} mcf_strided_copy_args;

void mcf_strided_copy(const mcf_strided_copy_args *a, const void *in, void *out);

/* Gather along one axis with constant indices: out[o][k] = in[o][indices[k]], blocks of
 * inner_bytes. */
typedef struct {
    int32_t outer, axis_len, inner_bytes, n_indices;
    const int32_t *indices;
} mcf_gather_args;

void mcf_gather(const mcf_gather_args *a, const void *in, void *out);

/* The float/int8 boundary of a model (TFLite QUANTIZE from float, DEQUANTIZE to float):
 * q = clamp(round_half_away(x / scale) + zp) in float32 as TFLite does; x = (q - zp) * scale. */
typedef struct {
    int32_t size, zero_point;
    float scale;
} mcf_affine_args;

void mcf_quantize_f32_s8(const mcf_affine_args *a, const float *in, int8_t *out);
void mcf_dequantize_s8_f32(const mcf_affine_args *a, const int8_t *in, float *out);

/* ---- float32 ----------------------------------------------------------------------------- */
typedef struct {
    mcf_window win;
    int32_t groups;
    const float *weights;
    const float *bias;
    float act_min, act_max;
} mcf_conv2d_f32_args;

void mcf_conv2d_f32(const mcf_conv2d_f32_args *a, const float *in, float *out);

typedef struct {
    int32_t rows, in_features, out_features;
    const float *weights;
    const float *bias;
    float act_min, act_max;
} mcf_fully_connected_f32_args;

void mcf_fully_connected_f32(const mcf_fully_connected_f32_args *a, const float *in, float *out);

typedef struct {
    int32_t batches, m, k, n;
    const int32_t *a_offsets;      /* [batches] element offset of each A matrix */
    const int32_t *b_offsets;      /* [batches] */
} mcf_matmul_f32_args;

void mcf_matmul_f32(const mcf_matmul_f32_args *a, const float *in1, const float *in2, float *out);

typedef enum { MCF_ADD = 0, MCF_SUB = 1, MCF_MUL = 2, MCF_DIV = 3, MCF_MAXIMUM = 4, MCF_MINIMUM = 5,
               MCF_SQDIFF = 6 } mcf_binary_op;

typedef struct {
    mcf_broadcast bc;
    mcf_binary_op op;
    float act_min, act_max;
} mcf_binary_f32_args;

void mcf_binary_f32(const mcf_binary_f32_args *a, const float *in1, const float *in2, float *out);

typedef enum {
    MCF_RELU = 0, MCF_CLIP = 1, MCF_SIGMOID = 2, MCF_HARDSWISH = 3, MCF_HARDSIGMOID = 4,
    MCF_TANH = 5, MCF_LEAKYRELU = 6, MCF_ELU = 7, MCF_ERF = 8, MCF_GELU = 9, MCF_GELU_TANH = 10, MCF_SILU = 11, MCF_POW = 12, MCF_RSQRT = 13
} mcf_unary_op;

typedef struct {
    int32_t size;
    mcf_unary_op op;
    float lo, hi;                  /* clip bounds */
    float alpha, beta;             /* hard sigmoid: clamp(alpha * x + beta, 0, 1); leaky relu, elu: alpha; pow: exponent */
} mcf_unary_f32_args;

void mcf_unary_f32(const mcf_unary_f32_args *a, const float *in, float *out);

typedef struct {
    mcf_window win;
    float act_min, act_max;
    int32_t count_include_pad;
} mcf_pool_f32_args;

void mcf_maxpool_f32(const mcf_pool_f32_args *a, const float *in, float *out);
void mcf_avgpool_f32(const mcf_pool_f32_args *a, const float *in, float *out);

typedef struct {
    int32_t outer, axis_len, inner;
    float beta;
} mcf_softmax_f32_args;

void mcf_softmax_f32(const mcf_softmax_f32_args *a, const float *in, float *out);

/* optimized variants of the kernels above (same signatures) */
#include "mcf_variants.h"


/* Mean over some axes: the output walks the kept dims, each output sums the reduced dims. */
typedef struct {
    int32_t n_kept, n_red;
    int32_t kept_shape[MCF_MAX_DIMS], kept_strides[MCF_MAX_DIMS];   /* input strides (elements) */
    int32_t red_shape[MCF_MAX_DIMS], red_strides[MCF_MAX_DIMS];
    int32_t count;                      /* elements per output */
    int32_t in_zp, out_zp, mult, shift; /* int8: TFLM's requantization with the count folded in */
    int32_t op;                         /* mcf_reduce_f32 / mcf_reduce_minmax_s8: an mcf_reduce_op */
} mcf_mean_args;

typedef enum { MCF_REDUCE_SUM = 0, MCF_REDUCE_MAX = 1, MCF_REDUCE_MIN = 2 } mcf_reduce_op;

/* int8 SUM runs mcf_mean_s8 with the count left out of the multiplier */
void mcf_mean_s8(const mcf_mean_args *a, const int8_t *in, int8_t *out);
void mcf_mean_f32(const mcf_mean_args *a, const float *in, float *out);
void mcf_reduce_f32(const mcf_mean_args *a, const float *in, float *out);
void mcf_reduce_minmax_s8(const mcf_mean_args *a, const int8_t *in, int8_t *out);

/* int8 batched matrix product (TFLite BATCH_MATMUL arithmetic) and layer normalization (float32
 * and the integer rule of ir/ops/layernorm.py). */
typedef struct {
    int32_t batches, m, k, n;
    const int32_t *a_offsets;      /* [batches] element offset of each A matrix */
    const int32_t *b_offsets;      /* [batches] */
    int32_t a_zp, b_zp, out_zp, mult, shift, act_min, act_max;
    void *scratch;                 /* DSP variant: int16 copies of B's columns and one A row */
} mcf_matmul_s8_args;

/* out[b][i][j] = requant(sum_k (A[i][k] - a_zp) * (B[k][j] - b_zp)) */
void mcf_matmul_s8(const mcf_matmul_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out);
void mcf_matmul_s8_dsp(const mcf_matmul_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out);

typedef struct {
    int32_t rows, n;
    float epsilon;
    const float *gamma;            /* [n] */
    const float *beta;             /* [n] or NULL */
} mcf_layernorm_f32_args;

void mcf_layernorm_f32(const mcf_layernorm_f32_args *a, const float *in, float *out);

typedef struct {
    int32_t rows, n;
    int64_t eps_q;                 /* epsilon * n^3 / s_in^2, rounded */
    int32_t out_zp;
    const int32_t *mult;           /* [n] signed Q31 multipliers: gamma * sqrt(n) / (2^30 * s_out) */
    const int32_t *shift;          /* [n] */
    const int32_t *bias;           /* [n] beta / s_out, rounded */
} mcf_layernorm_s8_args;

void mcf_layernorm_s8(const mcf_layernorm_s8_args *a, const int8_t *in, int8_t *out);

/* Patch-based schedule: write one patch (rows x row_bytes, dense) into the whole map at byte
 * dst_offset with dst_stride bytes per row. prev (NULL for the first patch) is the map so far;
 * when it is not out itself (the planner did not alias them) its first total_bytes (the part
 * written so far) are copied first. */
typedef struct {
    int32_t rows, row_bytes, dst_stride, dst_offset, total_bytes;
} mcf_patch_paste_args;

void mcf_patch_paste(const mcf_patch_paste_args *a, const void *prev, const void *patch, void *out);

/* QuantMCU: the outlier check of a patch (VDPC). *flag = 1 when some in[i] < lo or > hi (the
 * branch that follows runs at 8 bits; out = in), else 0 and out = in requantized to the branch's
 * low-bit grid: out[i] = table[in[i] + 128] (the requantization of each code, clamped to the
 * narrow range, tabulated at compile time); copy = 1 when that grid is the 8-bit one. out must not
 * overlap in (an outlier met midway restores out from in). */
typedef struct {
    int32_t size, lo, hi, copy;
    const int8_t *table;           /* [256] */
} mcf_qm_check_args;

void mcf_qm_check_s8(const mcf_qm_check_args *a, const int8_t *in, int8_t *out, int8_t *flag);

#include "mcf_elementwise.h"
/* int8 log-softmax and division, int16 hard-swish */
#include "mcf_logdiv.h"
/* int8 ops as onnxruntime computes them in float32 (requant="ort") */
#include "mcf_ort_float.h"
/* resize and transposed convolution (they reuse the conv2d argument structs above) */
#include "mcf_resize.h"
/* TFLite's 16x8 scheme (int16 activations; reuses the pooling, add and mul structs above) */
#include "mcf_kernels_s16.h"
/* convolution / fully connected with int4 and ternary weights (the int8 argument structs) */
#include "mcf_subbyte.h"

#include "mcf_fixed.h"

#endif /* MCF_KERNELS_H */
