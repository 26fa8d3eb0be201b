/*
 * mcf_subbyte_fastu_dw.h - depthwise convolution with int4 / ternary weights on cores without SIMD
 * (Cortex-M0 / M3), instantiated per width by mcf_depthwise_conv2d_s8_w{4,2}_fastu.c.
 *
 * The pattern of the DSP sub-byte depthwise (mcf_subbyte_dsp_dw.h) on the portable int8 kernel: the
 * taps (k_h k_w a channel, a small share of the work: the int8 kernel reads each out_h out_w times)
 * are unpacked once per call from the portable packing (mcf_wsub, or base 3 in order: mcf_trits)
 * into the scratch as exactly what mcf_depthwise_conv2d_s8_fast reads: int32 taps [out_c][k_h k_w]
 * (variants/fast.py: _fast_dw_prepare) and {bias', m, rcz, e} a channel (variants/shared.py:
 * fast_quant) with bias' = bias - in_zp sum w; then that kernel runs the layer (3x3 unrolled,
 * offset table, patch for the padding: about 7 instructions a MAC on M3 instead of the sub-byte
 * _fast loop's 21). Per channel as fast_quant decides at compile time: the int8 kernel's 32-bit
 * requantization {bias', m, rcz, e} where it is exact (e in 1..22, m >= 0, |bias'| + 128 sum |w| <
 * 2^29), else {bias', 0, 0, 0}: the reference requantization over int32 multipliers and shifts,
 * written into the scratch too (left-shift channels, e <= 0: the ternary layers' multipliers above
 * 1/2). The int8 kernel's windows over the padding other than 3x3 read the int32 bias, written into
 * the scratch where the layer stores int16 biases. The variant (variants/fast_subbyte_dw.py) checks
 * |bias'| + 128 sum |w| < 2^31 (the accumulator's range).
 * Scratch (int32): q [4 out_c], the taps [out_c k_h k_w], bias, mult and shift [out_c] each.
 */
#ifndef MCF_SUBBYTE_FASTU_DW_H
#define MCF_SUBBYTE_FASTU_DW_H

#include "mcf_subbyte_ref.h"
#include "mcf_variants.h"

static inline void mcf_depthwise_sub_fastu(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits)
{
    const mcf_window *w = &a->win;
    const int32_t c_n = w->out_c, kk = w->k_h * w->k_w, zp = a->rq.in_zp, out_zp = a->rq.out_zp;
    int32_t *q = (int32_t *)a->scratch;
    int32_t *taps = q + 4 * (size_t)c_n;
    int32_t *b32 = taps + (size_t)c_n * kk, *m32 = b32 + c_n, *s32 = m32 + c_n;
    mcf_trits t3 = mcf_trits_at(a->weights, 0);     /* base 3: the taps in order, channel after channel */
    int32_t *t = taps;
    for (int32_t c = 0; c < c_n; ++c, q += 4) {
        int32_t wsum = 0, sabs = 0;
        for (int32_t i = 0; i < kk; ++i, ++t) {
            *t = bits == 2 && a->base3 ? mcf_trits_next(&t3) : mcf_wsub(a->weights, (size_t)c * kk + (size_t)i, bits);
            wsum += *t;
            sabs += *t < 0 ? -*t : *t;
        }
        const int32_t b = mcf_sub_bias(a->bias, a->bias16, c), m = mcf_sub_mult(&a->rq, c);
        const int32_t e = -a->rq.shift[c], fb = b - zp * wsum, lim = (1 << 29) - 128 * sabs;
        const int ok = fb > -lim && fb < lim && m >= 0 && e >= 1 && e <= 22;    /* fast_quant's rule */
        b32[c] = b;
        m32[c] = m;
        s32[c] = -e;
        q[0] = fb;
        q[1] = ok ? m : 0;
        q[2] = ok ? (int32_t)((1u << (e - 1)) + ((uint32_t)out_zp << e)) : 0;
        q[3] = ok ? e : 0;
    }
    mcf_conv2d_s8_args a8 = mcf_sub_int8_args(w, a->groups, &a->rq, taps, (const int32_t *)a->scratch, NULL);
    a8.bias = b32;
    a8.rq.mult = m32;
    a8.rq.shift = s32;
    mcf_depthwise_conv2d_s8_fast(&a8, in, out);
}

#endif /* MCF_SUBBYTE_FASTU_DW_H */
