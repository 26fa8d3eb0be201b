/*
 * mcf_elementwise.h - argument structs of the elementwise kernels beyond add / sub / mul:
 * int8 maximum / minimum, PReLU (int8 and float32), float32 log-softmax, L2 normalization.
 * Included by mcf_kernels.h (it uses mcf_broadcast from there).
 */
#ifndef MCF_ELEMENTWISE_H
#define MCF_ELEMENTWISE_H

/* int8 max / min with broadcasting. raw = 1: compare the stored bytes (inputs already on the
 * output grid, or TFLM's MAXIMUM / MINIMUM); raw = 0: requantize both to the output grid first. */
typedef struct {
    mcf_broadcast bc;
    int32_t is_max, raw;
    int32_t in1_zp, in2_zp, out_zp, left_shift;
    int32_t in1_mult, in1_shift, in2_mult, in2_shift;
} mcf_maxmin_s8_args;

void mcf_maxmin_s8(const mcf_maxmin_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out);

/* mcf_mul_s8 when one operand is a gate repeated over the other (its strides contiguous on the
 * trailing dims, 0 on the leading ones): rows instead of the broadcast odometer. */
void mcf_mul_s8_gate(const mcf_mul_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out);

/* int8 squared difference with broadcasting (TFLM's left shift of 7; add's argument struct). */
void mcf_sqdiff_s8(const mcf_add_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out);

/* PReLU: y = x >= 0 ? x : x * slope, the slope broadcast against x (TFLM's int8 arithmetic:
 * x - zp >= 0 requantized by mult_pos, else (x - zp) * (slope - slope_zp) by mult_neg). */
typedef struct {
    mcf_broadcast bc;
    int32_t in_zp, alpha_zp, out_zp;
    int32_t mult_pos, shift_pos, mult_neg, shift_neg;
} mcf_prelu_s8_args;

void mcf_prelu_s8(const mcf_prelu_s8_args *a, const int8_t *in, const int8_t *slope, int8_t *out);

typedef struct {
    mcf_broadcast bc;
} mcf_prelu_f32_args;

void mcf_prelu_f32(const mcf_prelu_f32_args *a, const float *in, const float *slope, float *out);

typedef struct {
    int32_t outer, axis_len, inner;
} mcf_log_softmax_f32_args;

void mcf_log_softmax_f32(const mcf_log_softmax_f32_args *a, const float *in, float *out);

/* The largest of n floats `stride` apart, from x[0] on (the shift of both float softmax kernels). */
static inline float mcf_axis_max_f32(const float *x, int32_t n, int32_t stride)
{
    float max = x[0];
    for (int32_t c = 1; c < n; ++c) {
        max = x[c * stride] > max ? x[c * stride] : max;
    }
    return max;
}

/* L2 normalization along one axis (outer x axis x inner); int8: in_zp, output 1/128 and 0. */
typedef struct {
    int32_t outer, axis_len, inner;
    int32_t in_zp;
    float eps;
} mcf_l2norm_args;

void mcf_l2norm_s8(const mcf_l2norm_args *a, const int8_t *in, int8_t *out);
void mcf_l2norm_f32(const mcf_l2norm_args *a, const float *in, float *out);

#endif /* MCF_ELEMENTWISE_H */
