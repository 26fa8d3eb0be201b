/*
 * mcf_kernels_s16.h - kernels of TFLite's 16x8 scheme: int16 activations (zero point 0), int8
 * weights, int64 bias (or int32). Pooling, ADD / SUB and MUL reuse the int8 argument structs
 * (their fields are the same); the kernels below take int16 data.
 */
#ifndef MCF_KERNELS_S16_H
#define MCF_KERNELS_S16_H

#include <stdint.h>

/* conv2d (any groups, depthwise included), transposed conv2d */
typedef struct {
    mcf_window win;
    int32_t groups;
    const int8_t *weights;
    const int64_t *bias64;         /* TFLite's usual 16x8 bias: int64 accumulation */
    const int32_t *bias32;         /* an int32 bias: int32 accumulation (proved not to wrap) */
    const int32_t *mult, *shift;   /* per output channel */
    int32_t act_min, act_max;
    void *scratch;                 /* DSP conv: the gathered window (arena), NULL otherwise */
    const int16_t *packed_weights; /* DSP depthwise: weights tap-major [KH*KW][C] as int16 */
} mcf_conv2d_s16_args;

void mcf_conv2d_s16(const mcf_conv2d_s16_args *a, const int16_t *in, int16_t *out);
void mcf_depthwise_conv2d_s16(const mcf_conv2d_s16_args *a, const int16_t *in, int16_t *out);
void mcf_conv_transpose2d_s16(const mcf_conv2d_s16_args *a, const int16_t *in, int16_t *out);
/* DSP extension (SMLALD), weights reordered at compile time: codegen/c/variants/dsp_s16.py */
void mcf_conv2d_s16_dsp(const mcf_conv2d_s16_args *a, const int16_t *in, int16_t *out);
void mcf_depthwise_conv2d_s16_dsp(const mcf_conv2d_s16_args *a, const int16_t *in, int16_t *out);

typedef struct {
    int32_t rows, in_features, out_features;
    const int8_t *weights;
    const int64_t *bias64;
    const int32_t *bias32;
    const int32_t *mult, *shift;   /* per output feature */
    int32_t act_min, act_max;
} mcf_fully_connected_s16_args;

void mcf_fully_connected_s16(const mcf_fully_connected_s16_args *a, const int16_t *in, int16_t *out);
void mcf_fully_connected_s16_dsp(const mcf_fully_connected_s16_args *a, const int16_t *in, int16_t *out);

void mcf_add_s16(const mcf_add_s8_args *a, const int16_t *in1, const int16_t *in2, int16_t *out);
void mcf_mul_s16(const mcf_mul_s8_args *a, const int16_t *in1, const int16_t *in2, int16_t *out);
void mcf_maxpool_s16(const mcf_pool_s8_args *a, const int16_t *in, int16_t *out);
void mcf_avgpool_s16(const mcf_pool_s8_args *a, const int16_t *in, int16_t *out);
void mcf_mean_s16(const mcf_mean_args *a, const int16_t *in, int16_t *out);

/* LOGISTIC / TANH: input rescaled by (mult, left_shift), then the 256-entry sigmoid table */
typedef struct {
    int32_t size;
    int32_t mult, left_shift;
    const uint16_t *table;
} mcf_sigmoid_s16_args;

void mcf_sigmoid_s16(const mcf_sigmoid_s16_args *a, const int16_t *in, int16_t *out);
void mcf_tanh_s16(const mcf_sigmoid_s16_args *a, const int16_t *in, int16_t *out);

typedef struct {
    int32_t outer, axis_len, inner;
    int32_t mult, shift;           /* input difference -> the exp table's [-10, 0] grid */
    const int16_t *exp_lut;        /* 513 entries each */
    const int16_t *recip_lut;
} mcf_softmax_s16_args;

void mcf_softmax_s16(const mcf_softmax_s16_args *a, const int16_t *in, int16_t *out);

/* int8 <-> int16 requantization (QUANTIZE between integer types) */
typedef struct {
    int32_t size;
    int32_t in_zp, out_zp, mult, shift, out_min, out_max;
} mcf_requantize_args;

void mcf_requantize_s8_s16(const mcf_requantize_args *a, const int8_t *in, int16_t *out);
void mcf_requantize_s16_s8(const mcf_requantize_args *a, const int16_t *in, int8_t *out);
void mcf_requantize_s16_s16(const mcf_requantize_args *a, const int16_t *in, int16_t *out);

/* the float / int16 boundary (a model with float input or output) */
void mcf_quantize_f32_s16(const mcf_affine_args *a, const float *in, int16_t *out);
void mcf_dequantize_s16_f32(const mcf_affine_args *a, const int16_t *in, float *out);

#endif /* MCF_KERNELS_S16_H */
