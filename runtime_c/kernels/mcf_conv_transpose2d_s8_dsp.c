/*
 * int8 transposed convolution for cores with the DSP extension (Cortex-M4, M7, M33), channels per
 * group a multiple of 4. Same taps and order of outputs as the reference kernel. The dot product
 * over input channels takes four at a time: SXTAB16 sign-extends bytes 0/2 (and, rotated, 1/3) of
 * the input word and subtracts the zero point in the same instruction (values in [-255, 255] fit
 * a halfword), SXTB16 widens the weights likewise, and SMLADs add the products; two output
 * channels share each widened input word. Requantization is mcf_dsp_requant's four instructions
 * with per-channel {bias, multiplier, rcz, e} prepared at compile time (the compiler checks
 * |acc| < 2^30 and 1 <= e <= 22). The integer sums are the reference kernel's: bit-exact.
 */
#include <arm_acle.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"

static inline int8_t mcf_ct_out(int32_t acc, const int32_t *q, const mcf_requant_s8 *rq)
{
    return mcf_sat_s8(mcf_dsp_requant(2 * acc, q[1], q[2], q[3]), rq->act_min, rq->act_max);
}

void mcf_conv_transpose2d_s8_dsp(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    const mcf_window *w = &a->win;
    const int32_t ipg = w->in_c / a->groups;
    const int32_t opg = w->out_c / a->groups;
    const size_t filt_len = (size_t)w->k_h * w->k_w * ipg;
    const uint32_t neg_zp = (uint32_t)(uint16_t)(int16_t)(-a->rq.in_zp) * 0x00010001u;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const mcf_ct_taps ty = mcf_ct_axis(oy, w->pad_top, w->stride_h, w->dil_h, w->k_h, w->in_h);
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                const mcf_ct_taps tx = mcf_ct_axis(ox, w->pad_left, w->stride_w, w->dil_w, w->k_w, w->in_w);
                for (int32_t g = 0; g < a->groups; ++g) {
                    const int8_t *in_g = in_n + (size_t)g * ipg;
                    for (int32_t m = 0; m < opg; m += 2) {
                        const int32_t oc = g * opg + m;
                        const int32_t pair = m + 1 < opg;
                        const int8_t *f0 = a->weights + (size_t)oc * filt_len;
                        const int8_t *f1 = pair ? f0 + filt_len : f0;
                        const int32_t *q0 = a->packed_quant + 4 * oc;
                        int32_t acc0 = q0[0], acc1 = pair ? q0[4] : 0;
                        for (int32_t j = 0; j < ty.n; ++j) {
                            const int32_t ky = ty.k0 + j * ty.kstep, iy = ty.i0 - j * ty.di;
                            for (int32_t i = 0; i < tx.n; ++i) {
                                const int32_t kx = tx.k0 + i * tx.kstep, ix = tx.i0 - i * tx.di;
                                const int8_t *px = in_g + ((size_t)iy * w->in_w + ix) * w->in_c;
                                const size_t tap = ((size_t)ky * w->k_w + kx) * ipg;
                                const int8_t *w0 = f0 + tap, *w1 = f1 + tap;
                                for (int32_t ic = 0; ic < ipg; ic += 4) {
                                    const uint32_t x4 = (uint32_t)mcf_rd32(px + ic);
                                    const uint32_t xl = __sxtab16(neg_zp, x4), xh = mcf_sxtab16_ror8(neg_zp, x4);
                                    const uint32_t a4 = (uint32_t)mcf_rd32(w0 + ic), b4 = (uint32_t)mcf_rd32(w1 + ic);
                                    acc0 = __smlad(xl, __sxtb16(a4), acc0);
                                    acc0 = __smlad(xh, mcf_sxtb16_ror8(a4), acc0);
                                    acc1 = __smlad(xl, __sxtb16(b4), acc1);
                                    acc1 = __smlad(xh, mcf_sxtb16_ror8(b4), acc1);
                                }
                            }
                        }
                        out[oc] = mcf_ct_out(acc0, q0, &a->rq);
                        if (pair) {
                            out[oc + 1] = mcf_ct_out(acc1, q0 + 4, &a->rq);
                        }
                    }
                }
                out += w->out_c;
            }
        }
    }
}
