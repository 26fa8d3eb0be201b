/*
 * mcf_ort_float.h - argument structs of the requant="ort" kernels: int8 ops computed the way
 * onnxruntime computes them in a QDQ model (float32 on dequantized values), with integers only
 * (compiler/mcuforge/reference/ort_float.py states the rule and proves the tables). Included by
 * mcf_kernels.h.
 */
#ifndef MCF_ORT_FLOAT_H
#define MCF_ORT_FLOAT_H

/* int8 add / subtract with broadcasting. s = da[x1 + 128] + db[x2 + 128] is the exact float32 sum
 * (difference: db holds -fb) of the dequantized inputs in units of 2^k; the output is
 * act_min + #{j < steps : thresholds[j] <= s} (steps = act_max - act_min). The step is first
 * estimated as out_zp + ((s >> est_shift) * est_mult + est_round) >> est_n, then walked to. */
typedef struct {
    mcf_broadcast bc;
    const int64_t *da, *db, *thresholds;
    int32_t out_zp, act_min, steps;
    int32_t est_shift, est_mult, est_n;
    int64_t est_round;
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
