/*
 * mcf_subbyte_mve_dw.h - depthwise convolution (depth multiplier 1, any kernel, stride, dilation,
 * padding) with int4 / ternary weights on Cortex-M55 Helium, instantiated per width by
 * mcf_depthwise_conv2d_s8_w4_mve.c and ..._w2_mve.c.
 *
 * The taps (k_h k_w a channel, a small share of the work) are unpacked at the start into the
 * scratch as the int8 Helium depthwise kernel's weights (int8 [C4 / 4][taps][4]) and that kernel,
 * mcf_depthwise_conv2d_s8_mve_ch, runs the layer. Flash (codegen/c/variants/dsp_subbyte.py:
 * _mve_dw_prepare): those int8 weights packed in their order as the portable format packs a row
 * (int4 two a byte, element 2i in the low nibble; ternary four a byte, element 4i + j in bits
 * 2j..2j+1; two's complement), zero padded to whole vectors. Unpacking 32 (int4) or 64
 * (ternary) weights: one VLDRB, VSHL + VSHR per field (VSHR alone for the top one) and one
 * interleaving VST2 / VST4. The constants are compact in flash (mcf_subbyte_mve_quant.h) and
 * expanded into the scratch after the weights as the int8 kernel's packed_quant (mode word, 3
 * padding words, mve_quant4, then the input zero point row of C4 bytes).
 * A depth multiplier > 1 (mcf_depthwise_conv2d_s8_w{4,2}_mve_gen.c) runs the int8 general Helium
 * kernel mcf_depthwise_conv2d_s8_mve the same way, over the portable order [out_c][taps]
 * (codegen/c/variants/dsp_subbyte_dw.py: _mve_gen_prepare), whose `bias` holds that kernel's
 * packed_quant in flash.
 */
#ifndef MCF_SUBBYTE_MVE_DW_H
#define MCF_SUBBYTE_MVE_DW_H

#include <arm_mve.h>
#include <stdint.h>

#include "mcf_kernels.h"
#include "mcf_subbyte.h"
#include "mcf_subbyte_mve_quant.h"
#include "mcf_variants.h"

/* n weights (a multiple of 32 int4 / 64 ternary) from their packed vectors at src into int8 at dst */
static inline void mcf_sub_mve_unpack(const int8_t *src, int8_t *dst, int32_t n, int32_t bits)
{
    const int32_t per = bits == 4 ? 32 : 64;                                /* weights per 16 bytes */
    for (int32_t i = 0; i < n; i += per, src += 16, dst += per) {
        const int8x16_t v = vld1q_s8(src);
        if (bits == 4) {
            int8x16x2_t t;
            t.val[0] = vshrq_n_s8(vshlq_n_s8(v, 4), 4);
            t.val[1] = vshrq_n_s8(v, 4);
            vst2q_s8(dst, t);
        } else {
            int8x16x4_t t;
            t.val[0] = vshrq_n_s8(vshlq_n_s8(v, 6), 6);
            t.val[1] = vshrq_n_s8(vshlq_n_s8(v, 4), 6);
            t.val[2] = vshrq_n_s8(vshlq_n_s8(v, 2), 6);
            t.val[3] = vshrq_n_s8(v, 6);
            vst4q_s8(dst, t);
        }
    }
}

/* n int8 weights unpacked into the scratch (16-byte aligned); returns them, *rest = the scratch after */
static inline int8_t *mcf_sub_mve_taps(const mcf_conv2d_sub_args *a, int32_t n, int32_t bits, void **rest)
{
    const int32_t per = bits == 4 ? 32 : 64;
    const int32_t nv = (n + per - 1) / per * per;
    int8_t *wbuf = (int8_t *)(((uintptr_t)a->scratch + 15u) & ~(uintptr_t)15u);
    mcf_sub_mve_unpack((const int8_t *)a->weights, wbuf, nv, bits);
    *rest = wbuf + nv;
    return wbuf;
}

/* Depth multiplier 1: mcf_depthwise_conv2d_s8_mve_ch over weights [C4 / 4][taps][4]. */
static inline void mcf_depthwise_sub_mve(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits)
{
    const mcf_window *win = &a->win;
    void *rest;
    int8_t *wbuf = mcf_sub_mve_taps(a, ((win->out_c + 3) & ~3) * win->k_h * win->k_w, bits, &rest);
    /* the constants (16-byte aligned after the weights): mode, mve_quant4, the zero point row */
    const int32_t c = win->out_c, c4 = (c + 3) & ~3;
    int32_t *qbuf = (int32_t *)rest;
    qbuf[0] = mcf_sub_mve_mode(&a->rq, 0, c);
    mcf_sub_mve_quant4(a->bias, a->bias16, &a->rq, c, qbuf + 4);
    int8_t *zp_row = (int8_t *)(qbuf + 4 + 5 * c4);
    for (int32_t i = 0; i < c4; i += 16) {
        vstrbq_p_s8(zp_row + i, vdupq_n_s8((int8_t)a->rq.in_zp), vctp8q((uint32_t)(c4 - i)));
    }
    const mcf_conv2d_s8_args a8 = mcf_sub_int8_args(win, a->groups, &a->rq, wbuf, qbuf,
                                                    zp_row + ((c4 + 15) & ~15));
    mcf_depthwise_conv2d_s8_mve_ch(&a8, in, out);
}

/* Any depth multiplier (the layers that mcf_depthwise_sub_mve does not take): the int8 general
 * Helium kernel mcf_depthwise_conv2d_s8_mve (4 pixels in vector lanes, channel by channel) over
 * its weights [out_c][taps] (the portable order); `bias` holds its packed_quant. */
static inline void mcf_depthwise_sub_mve_gen(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out,
                                             int32_t bits)
{
    const mcf_window *win = &a->win;
    void *rest;
    int8_t *wbuf = mcf_sub_mve_taps(a, win->out_c * win->k_h * win->k_w, bits, &rest);
    mcf_conv2d_s8_args a8 = mcf_sub_int8_args(win, a->groups, &a->rq, NULL, a->bias, rest);
    a8.weights = wbuf;
    mcf_depthwise_conv2d_s8_mve(&a8, in, out);
}

#endif /* MCF_SUBBYTE_MVE_DW_H */
