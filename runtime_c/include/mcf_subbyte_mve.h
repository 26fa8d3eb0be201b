/*
 * mcf_subbyte_mve.h - convolution (groups 1) with int4 / ternary weights on Cortex-M55 Helium,
 * instantiated per width by mcf_conv2d_s8_w4_mve.c and mcf_conv2d_s8_w2_mve.c.
 *
 * As the DSP variant (mcf_subbyte_dsp.h): blocks of `block` output channels (a multiple of 4, or
 * all) are unpacked into the scratch as the int8 Helium kernel's weights (int8 [group of 4
 * channels][K16 / 16][4][16]) and that kernel (mcf_conv2d_s8_mve_block, strided output) runs the
 * block over all pixels. Flash (codegen/c/variants/dsp_subbyte.py: mve_sub_layout), per group of
 * 4 channels and 16 K, two's complement fields:
 *   int4:    32 bytes: byte i of the first 16 = ch0[i] | ch1[i] << 4, of the next 16 = ch2 | ch3
 *   ternary: 16 bytes: byte i = ch0[i] | ch1[i] << 2 | ch2[i] << 4 | ch3[i] << 6
 * Unpacking 16 weights: VLDRB, then VSHL #(8 - bits - f) and VSHR #(8 - bits) (arithmetic, on
 * 8-bit lanes), VSTRB: exact int8 values.
 * Ternary layers store the block's int8 vectors in base 3 instead (`base3`; variants/dsp_subbyte.py:
 * mve_sub_layout3; 1.6 bits a weight): per run of 5 vectors 16 bytes, byte i = ceil(256 v / 243)
 * with v the five trits w + 1 of lane i, first vector most significant (quant/subbyte.py:
 * pack_base3); each block starts at a whole run. Decoded on 16 lanes at once, five times: t =
 * VMULH.U8(q, 3) (= 3 q >> 8), q = VMUL.I8(q, 3) (= 3 q & 255), store t - 1: 4 instructions per
 * 16 weights (2-bit fields: 3).
 * Constants: compact in flash (mcf_subbyte_mve_quant.h: folded bias int16 / int32, multiplier
 * uint16 / int32, shift int8); each block's are expanded into the scratch as the int8 Helium
 * kernel reads them (mve_quant_conv: a mode word, 3 padding words, then per group of 4 channels
 * folded biases, [left shifts], multipliers, [fix-up masks], negated right shifts), the mode that
 * of the block's channels.
 */
#ifndef MCF_SUBBYTE_MVE_H
#define MCF_SUBBYTE_MVE_H

#include <arm_mve.h>
#include <stdint.h>

#include "mcf_kernels.h"
#include "mcf_subbyte.h"
#include "mcf_subbyte_mve_quant.h"
#include "mcf_variants.h"

static __attribute__((noinline)) void mcf_sub_mve_unpack(const int8_t *src, int8_t *dst, int32_t vecs, int32_t bits)
{
    if (bits == 4) {
        for (int32_t i = 0; i < vecs; i += 2, src += 16, dst += 32) {
            const int8x16_t v = vldrbq_s8(src);
            vstrbq_s8(dst, vshrq_n_s8(vshlq_n_s8(v, 4), 4));
            vstrbq_s8(dst + 16, vshrq_n_s8(v, 4));
        }
    } else {
        for (int32_t i = 0; i < vecs; i += 4, src += 16, dst += 64) {
            const int8x16_t v = vldrbq_s8(src);
            vstrbq_s8(dst, vshrq_n_s8(vshlq_n_s8(v, 6), 6));
            vstrbq_s8(dst + 16, vshrq_n_s8(vshlq_n_s8(v, 4), 6));
            vstrbq_s8(dst + 32, vshrq_n_s8(vshlq_n_s8(v, 2), 6));
            vstrbq_s8(dst + 48, vshrq_n_s8(v, 6));
        }
    }
}

/* mve_quant_conv's header and groups of channels c0 .. c0 + nc - 1 at dst (16-byte aligned). */
static __attribute__((noinline)) void mcf_sub_mve_quant_conv(const mcf_conv2d_sub_args *a, int32_t c0, int32_t nc,
                                                             int32_t *dst)
{
    const int32_t mode = mcf_sub_mve_mode(&a->rq, c0, nc);
    const int16_t *bias16 = a->bias16 ? a->bias16 + c0 : NULL;
    const int32_t *bias = a->bias ? a->bias + c0 : NULL;
    mcf_requant_sub rq = a->rq;
    rq.shift += c0;
    if (rq.mult16) {
        rq.mult16 += c0;
    } else {
        rq.mult += c0;
    }
    dst[0] = mode;
    int32_t *q = dst + 4;
    for (int32_t c = 0; c < nc; c += 4) {
        const mcf_sub_mve_q4 v = mcf_sub_mve_q4_load(bias, bias16, &rq, c, vctp32q((uint32_t)(nc - c)));
        vst1q_s32(q, v.b);
        q += 4;
        if (mode & 1) {
            vst1q_s32(q, v.l);
            q += 4;
        }
        vst1q_s32(q, v.m);
        q += 4;
        if (mode & 2) {
            vst1q_s32(q, v.f);
            q += 4;
        }
        vst1q_s32(q, v.r);
        q += 4;
    }
}

static __attribute__((noinline)) void mcf_sub_mve_unpack3(const uint8_t *src, int8_t *dst, int32_t vecs)
{
    const uint8x16_t three = vdupq_n_u8(3);
    for (int32_t i = 0; i < vecs; i += 5, src += 16, dst += 80) {
        uint8x16_t q = vldrbq_u8(src);
#define MCF_SUB_TRIT(j)                                                                     \
        vstrbq_s8(dst + 16 * (j), vsubq_n_s8(vreinterpretq_s8_u8(vmulhq_u8(q, three)), 1))
        MCF_SUB_TRIT(0);
        q = vmulq_u8(q, three);
        MCF_SUB_TRIT(1);
        q = vmulq_u8(q, three);
        MCF_SUB_TRIT(2);
        q = vmulq_u8(q, three);
        MCF_SUB_TRIT(3);
        q = vmulq_u8(q, three);
        MCF_SUB_TRIT(4);
#undef MCF_SUB_TRIT
    }
}

static inline void mcf_conv2d_sub_mve(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits)
{
    const mcf_window *win = &a->win;
    const int32_t k = win->k_h * win->k_w * win->in_c;
    const int32_t kpad = (k + 15) & ~15;
    const int32_t out_c = win->out_c, block = a->block;
    int8_t *cols = (int8_t *)(((uintptr_t)a->scratch + 15u) & ~(uintptr_t)15u);
    int8_t *wbuf = cols + 2 * kpad;
    const int32_t bvecs = ((block + 3) >> 2) * 4 * (kpad / 16);    /* int8 vectors of a whole block */
    const int32_t runs = (bvecs + 4) / 5;                            /* base 3: runs of 5 of them */
    int32_t *qbuf = (int32_t *)(wbuf + 16 * (size_t)(a->base3 ? 5 * runs : bvecs));
    const int32_t group_bytes = kpad * bits / 2;          /* flash bytes of a group of 4 channels */
    mcf_conv2d_s8_args a8 = mcf_sub_int8_args(win, 1, &a->rq, wbuf, qbuf, cols);
    for (int32_t c0 = 0; c0 < out_c; c0 += block) {
        const int32_t nc = out_c - c0 < block ? out_c - c0 : block;
        const int32_t vecs = ((nc + 3) >> 2) * 4 * (kpad / 16);
        mcf_sub_mve_quant_conv(a, c0, nc, qbuf);
        if (a->base3) {
            mcf_sub_mve_unpack3(a->weights + (size_t)(c0 / block) * runs * 16, wbuf, vecs);
        } else {
            mcf_sub_mve_unpack((const int8_t *)a->weights + (size_t)(c0 >> 2) * group_bytes, wbuf, vecs, bits);
        }
        a8.win.out_c = nc;
        mcf_conv2d_s8_mve_block(&a8, in, out + c0, out_c);
    }
}

#endif /* MCF_SUBBYTE_MVE_H */
