/*
 * mcf_logdiv.h - argument structs of int8 log-softmax, int8 division and int16 hard-swish
 * (compiler/mcuforge/reference/logdiv_arith.py states each rule). Included by mcf_kernels.h.
 */
#ifndef MCF_LOGDIV_H
#define MCF_LOGDIV_H

/* int8 log-softmax along one axis (outer x axis x inner), output scale 16/256, zero point 127.
 * diff_q5[d] / exp_q12[d]: the difference -d from the row maximum in Q5.26 and its exponential
 * in Q12.19 (0 below diff_min), d = 0 .. 255. */
typedef struct {
    int32_t outer, axis_len, inner;
    int32_t diff_min, rev_mult, rev_shift;
    const int32_t *diff_q5, *exp_q12;
} mcf_log_softmax_s8_args;

void mcf_log_softmax_s8(const mcf_log_softmax_s8_args *a, const int8_t *in, int8_t *out);

/* int8 division with broadcasting (TFLite Micro's DIV: fixed-point reciprocal of the divisor).
 * recip[d]: the Q31 mantissa of 1 / d for each divisor magnitude d = |x2 - zp2| <= 255. */
typedef struct {
    mcf_broadcast bc;
    int32_t in1_zp, in2_zp, out_zp;
    int32_t out_mult, out_shift;
    int32_t act_min, act_max;
    const int32_t *recip;
} mcf_div_s8_args;

void mcf_div_s8(const mcf_div_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out);

/* int16 hard-swish: r = clamp(x * s_in / 6 + 1/2, 0, 1) in Q30 (x * r_mult >> r_shift, rounded),
 * x * r rounded to Q16, then * out_mult >> out_shift (rounded), clamped to int16. */
typedef struct {
    int32_t size;
    int32_t r_mult, r_shift, out_mult, out_shift;
} mcf_hardswish_s16_args;

void mcf_hardswish_s16(const mcf_hardswish_s16_args *a, const int16_t *in, int16_t *out);

#endif /* MCF_LOGDIV_H */
