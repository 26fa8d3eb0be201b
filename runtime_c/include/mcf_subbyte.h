/*
 * mcf_subbyte.h - entry points of the kernels with sub-byte weights (int8 activations, int32
 * accumulators, the int8 contract's requantization; only the weights are narrower).
 *
 * They take the int8 kernels' argument structs; `weights` then points at packed bytes
 * (compiler/mcuforge/quant/subbyte.py): over the flattened weight tensor, low field first,
 *   _w4: int4 in [-7, 7], two per byte (element 2i in bits 0..3, 2i+1 in bits 4..7; TFLite's order)
 *   _w2: ternary {-1, 0, 1} as 2-bit two's complement, four per byte (element 4i+j in bits 2j..2j+1)
 * Optimized variants (_dsp, _mve, _fast) read their own compile-time reordering of the same
 * fields from packed_weights.
 */
#ifndef MCF_SUBBYTE_H
#define MCF_SUBBYTE_H

#include "mcf_kernels.h"

void mcf_conv2d_s8_w4(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_w2(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w4(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_w2(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w4(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_w2(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out);

#endif /* MCF_SUBBYTE_H */
