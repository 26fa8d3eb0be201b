/*
 * mcf_ort_float.h - argument structs of the requant="ort" kernels: int8 ops computed the way
 * onnxruntime computes them in a QDQ model (float32 on dequantized values), with integers only
 * (compiler/mcuforge/reference/ort_float.py states the rule and proves the tables). Included by
 * mcf_kernels.h.
 */
#ifndef MCF_ORT_FLOAT_H
#define MCF_ORT_FLOAT_H

/* int8 add / subtract with broadcasting. Fast path: e = ea[(uint8_t)x1] + eb[(uint8_t)x2] is the
 * exact value (fa +- fb) / out_scale + out_zp + 1/2 in fixed point (MCF_ADD_ORT_FRAC_BITS
 * fractional bits); the output is floor(e) unless e's fraction lies within MCF_ADD_ORT_EPS of a
 * step or floor(e) lies outside [act_min, act_max] (then clamped). Near a step the exact float32
 * sum s = fa + fb (fb holds -fb for a difference) in units of 2^unit_exp, from the float32 bits
 * fa_bits / fb_bits, meets the thresholds: output = act_min + #{j < steps : thresholds[j] <= s}
 * (steps = act_max - act_min), what float32 rounding, the division by the output scale and
 * rounding half to even make of s. */
#define MCF_ADD_ORT_FRAC_BITS 16
#define MCF_ADD_ORT_EPS 16

typedef struct {
    mcf_broadcast bc;
    const int32_t *ea, *eb;
    const uint32_t *fa_bits, *fb_bits;
    const int64_t *thresholds;
    int32_t unit_exp;
    int32_t act_min, act_max;
} mcf_add_s8_ort_args;

void mcf_add_s8_ort(const mcf_add_s8_ort_args *a, const int8_t *in1, const int8_t *in2, int8_t *out);

/* int8 bilinear resize (NHWC) as onnxruntime's float UpsampleBilinear runs it on the dequantized
 * input: per output (y, x) the float32 sum, left to right, of (dx2 dy2) X[y1,x1], (dx1 dy2) X[y1,x2],
 * (dx2 dy1) X[y2,x1], (dx1 dy1) X[y2,x2] (each weight product rounded first), X = deq[x + 128];
 * then v / out_scale, clamped to [q_lo, q_hi], rounded half to even, plus out_zp. Float32 at run
 * time (no multiply-add fused; software float on cores without an FPU). */
typedef struct {
    int32_t batch, in_h, in_w, out_h, out_w, channels;
    const int32_t *y1, *y2, *x1, *x2;     /* [out_h], [out_h], [out_w], [out_w] source rows / columns */
    const float *dy1, *dy2, *dx1, *dx2;   /* onnxruntime's per-axis weights (dy2 weighs row y1) */
    const float *deq;                     /* [256] float32(x - in_zp) * in_scale */
    float out_scale, q_lo, q_hi;          /* q_lo = -128 - out_zp, q_hi = 127 - out_zp */
    int32_t out_zp;
} mcf_resize_bilinear_s8_ort_args;

void mcf_resize_bilinear_s8_ort(const mcf_resize_bilinear_s8_ort_args *a, const int8_t *in, int8_t *out);

#endif /* MCF_ORT_FLOAT_H */
