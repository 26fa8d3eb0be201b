/* int8 add / subtract with broadcasting as onnxruntime runs a QDQ Add (requant="ort"): the
 * float32 sum of the two dequantized inputs, divided by the output scale in float32 and rounded
 * half to even, reproduced bit for bit with integers (no FPU): two table look-ups give the exact
 * sum, a threshold staircase gives what float32 makes of it (reference/ort_float.py). */
#include "mcf_kernels.h"
#include "mcf_broadcast.h"

static inline int8_t add_ort_one(const mcf_add_s8_ort_args *a, int32_t x1, int32_t x2)
{
    const int64_t s = a->da[x1 + 128] + a->db[x2 + 128];
    /* |s >> est_shift| < 2^30 and est_mult < 2^31: the product fits in 62 bits */
    int64_t j = a->out_zp - a->act_min +
                ((((int64_t)(int32_t)(s >> a->est_shift)) * a->est_mult + a->est_round) >> a->est_n);
    if (j < 0) {
        j = 0;
    } else if (j > a->steps) {
        j = a->steps;
    }
    int32_t k = (int32_t)j;
    while (k < a->steps && s >= a->thresholds[k]) {
        ++k;
    }
    while (k > 0 && s < a->thresholds[k - 1]) {
        --k;
    }
    return (int8_t)(a->act_min + k);
}

void mcf_add_s8_ort(const mcf_add_s8_ort_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    MCF_BROADCAST_APPLY(add_ort_one, a, in1, in2, out);
}
