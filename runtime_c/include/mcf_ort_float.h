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

#endif /* MCF_ORT_FLOAT_H */
