/*
 * mcf_variants.h - entry points of the optimized kernel variants. Each has the signature and the
 * argument struct of the portable kernel it replaces (mcf_kernels.h); compiler/mcuforge/codegen/c/
 * variants.py chooses them from the core's features and prepares their constants.
 *   _dsp  Cortex-M4 / M7 / M33 DSP extension (SMLAD & co, <arm_acle.h>)
 *   _mve  Cortex-M55 Helium (<arm_mve.h>)
 *   _fast tuned portable C (Cortex-M0 / M3, any C99 target)
 */
#ifndef MCF_VARIANTS_H
#define MCF_VARIANTS_H

#include "mcf_kernels.h"

void mcf_conv2d_s8_dsp(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_dsp_block(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out, int32_t out_stride);
void mcf_conv2d_s8_dsp_lsh(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_dsp_block_lsh(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out, int32_t out_stride);
void mcf_conv2d_s8_dsp_cols(const mcf_conv2d_s8_args *a, const int8_t *in_n, int32_t pair0, int32_t n, int32_t *cols);
void mcf_conv2d_s8_dsp_run_cols(const mcf_conv2d_s8_args *a, const int32_t *cols, int32_t pair0, int32_t n,
                                int8_t *out_n, int32_t out_stride);
void mcf_conv2d_s8_dsp_run_cols_lsh(const mcf_conv2d_s8_args *a, const int32_t *cols, int32_t pair0, int32_t n,
                                    int8_t *out_n, int32_t out_stride);
void mcf_conv2d_s8_dsp_run_acc(const int32_t *cols, int32_t nfull, int32_t single, const int32_t *wrows, int32_t rows,
                               int32_t kgroups, int32_t *acc, int32_t row_words);
void mcf_conv2d_s8_dsp_lean(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_mve(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_conv2d_s8_mve_block(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out, int32_t out_stride);
void mcf_conv2d_s8_fast(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_dsp(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_dsp2(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_dsp_lsh(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_dsp2_lsh(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_dsp3x3(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_dsp3x3_1(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_dsp3x3_lsh(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_dsp3x3_lsh1(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_mve(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_mve_ch(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_mve1(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_depthwise_conv2d_s8_fast(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out);
void mcf_maxpool_s8_dsp(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out);
void mcf_maxpool_s8_mve(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out);
void mcf_maxpool_s8_fast(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out);
void mcf_avgpool_s8_dsp(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out);
void mcf_avgpool_s8_mve(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out);
void mcf_avgpool_s8_fast(const mcf_pool_s8_args *a, const int8_t *in, int8_t *out);
void mcf_add_s8_dsp(const mcf_add_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out);
void mcf_add_s8_mve(const mcf_add_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out);
void mcf_add_s8_fast(const mcf_add_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out);
void mcf_fully_connected_s8_dsp(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_dsp_lsh(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_dsp_lean(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_dsp_row(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_mve(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out);
void mcf_fully_connected_s8_fast(const mcf_fully_connected_s8_args *a, const int8_t *in, int8_t *out);

#endif /* MCF_VARIANTS_H */
