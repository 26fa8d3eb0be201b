/*
 * mcf_subbyte.h - entry points of the kernels with sub-byte weights (int8 activations, int32
 * accumulators, the int8 contract's requantization; only the weights are narrower).
 *
 * `weights` points at packed bytes (compiler/mcuforge/quant/subbyte.py): over the flattened weight
 * tensor, low field first,
 *   _w4: int4 in [-7, 7], two per byte (element 2i in bits 0..3, 2i+1 in bits 4..7; TFLite's order)
 *   _w2: ternary {-1, 0, 1} as 2-bit two's complement, four per byte (element 4i+j in bits 2j..2j+1),
 *        or, where `base3` is set (portable and _fast kernels), five per byte in base 3 (mcf_trits)
 * Optimized variants (_dsp, _mve, _fast) read their own compile-time reordering of the same fields
 * (same bytes, rows padded to their block size). The per-channel constants are compact, since
 * they are a visible share of a sub-byte layer's flash: int32 bias and Q31 multiplier, int8 shift.
 * The portable and _fast kernels read narrower forms where a layer's values allow them (chosen at
 * compile time per layer, codegen/c/layers/subbyte.py): `bias16` (int16) instead of `bias` when
 * every bias fits, `rq.mult16` (the Q31 multiplier >> 15, uint16) instead of `rq.mult` when every
 * multiplier ends in 15 zero bits (the quantizer picks such scales, quant/subbyte.py). The unused
 * pointer is NULL; mcf_sub_bias() / mcf_sub_mult() read whichever is set.
 */
#ifndef MCF_SUBBYTE_H
#define MCF_SUBBYTE_H

#include <stdint.h>

#include "mcf_kernels.h"

/* Requantization of a sub-byte layer: the int8 contract's, the shift stored in one byte. */
typedef struct {
    int32_t in_zp, out_zp;
    int32_t act_min, act_max;      /* fused activation, in the output's int8 grid */
    const int32_t *mult;           /* [channels] Q31 multipliers */
    const int8_t *shift;           /* [channels] power-of-two exponents (-31..31) */
    const uint16_t *mult16;        /* [channels] Q31 multipliers >> 15 (then mult is NULL), or NULL */
    const int16_t *bias16;         /* the layer's int16 biases again (the args' bias16), for kernels that
                                    * get only rq and an int32 bias pointer (DSP GEMM blocks), or NULL */
} mcf_requant_sub;

typedef struct {
    mcf_window win;
    int32_t groups;
    const uint8_t *weights;        /* packed (see above) */
    const int32_t *bias;           /* [out_c] or NULL */
    mcf_requant_sub rq;
    void *scratch;                 /* the layer's scratch buffer (optimized variants), in the arena */
    int32_t block;                 /* output channels unpacked at a time (_dsp variants), else 0 */
    const int16_t *bias16;         /* [out_c] when every bias fits int16 (then bias is NULL), or NULL */
    int32_t base3;                 /* _w2: weights five a byte in base 3 (mcf_subbyte_ref.h: mcf_trits) */
    int32_t cols;                  /* _dsp: pixel pairs whose columns are kept while blocks cycle (0: none) */
    int32_t scaled;                /* _dsp: weights unpacked as 16 w / 64 w (mcf_subbyte_dsp.h) */
} mcf_conv2d_sub_args;

typedef struct {
    int32_t rows, in_features, out_features;
    const uint8_t *weights;
    const int32_t *bias;
    mcf_requant_sub rq;
    void *scratch;
    int32_t block;                 /* as in mcf_conv2d_sub_args */
    const int16_t *bias16;         /* as in mcf_conv2d_sub_args */
    int32_t base3;                 /* as in mcf_conv2d_sub_args */
    int32_t mve_mode;              /* _mve: the channels' requantization mode (mcf_subbyte_mve_quant.h) */
} mcf_fully_connected_sub_args;

/* Channel c's bias (0 without one) and Q31 multiplier, from whichever storage the layer has. */
static inline int32_t mcf_sub_bias(const int32_t *bias, const int16_t *bias16, int32_t c)
{
    return bias16 ? (int32_t)bias16[c] : bias ? bias[c] : 0;
}

static inline int32_t mcf_sub_mult(const mcf_requant_sub *rq, int32_t c)
{
    return rq->mult16 ? (int32_t)((uint32_t)rq->mult16[c] << 15) : rq->mult[c];
}

/* The argument struct of an int8 optimized kernel that the _dsp / _mve variants run over weights and
 * constants they unpacked into the scratch (window, zero points and clamp of the sub-byte layer). */
static inline mcf_conv2d_s8_args mcf_sub_int8_args(const mcf_window *win, int32_t groups, const mcf_requant_sub *rq,
                                                   const void *weights, const int32_t *quant, void *scratch)
{
    mcf_conv2d_s8_args a8;
    a8.win = *win;
    a8.groups = groups;
    a8.weights = NULL;
    a8.bias = NULL;
    a8.rq.in_zp = rq->in_zp;
    a8.rq.out_zp = rq->out_zp;
    a8.rq.act_min = rq->act_min;
    a8.rq.act_max = rq->act_max;
    a8.rq.mult = NULL;
    a8.rq.shift = NULL;
    a8.packed_weights = weights;
    a8.packed_quant = quant;
    a8.scratch = scratch;
    return a8;
}

void mcf_conv2d_s8_w4(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w2(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w4(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w2(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w4(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w2(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
/* optimized variants (mcf_subbyte_ref.h: _fast, mcf_subbyte_dsp.h: _dsp) */
void mcf_depthwise_conv2d_s8_w4_fast(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w2_fast(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w4_fast(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w2_fast(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w4_fast(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w2_fast(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w4_pair(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w2_pair(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w4_pair(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w2_pair(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w4_fastu(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w2_fastu(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w4_dsp(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w2_dsp(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w4_dsp_lsh(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w2_dsp_lsh(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
/* any depthwise shape (mcf_subbyte_dsp_dw.h, mcf_subbyte_mve_dw.h) */
void mcf_depthwise_conv2d_s8_w4_dsp_gen(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w2_dsp_gen(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w4_dsp_gen_lsh(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w2_dsp_gen_lsh(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w4_mve_gen(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w2_mve_gen(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w4_mve(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w2_mve(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w4_mve(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w2_mve(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w4_mve(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w2_mve(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w4_dsp(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w2_dsp(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w4_dsp_rdx(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w2_dsp_rdx(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w4_dsp_lsh(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w2_dsp_lsh(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w4_dsp_lss(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w2_dsp_lss(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w4_dsp_lsh(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w2_dsp_lsh(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w4_dsp_lss(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w2_dsp_lss(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w4_dsp(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w2_dsp(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w4_dsp_head(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w2_dsp_head(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out);

#endif /* MCF_SUBBYTE_H */
