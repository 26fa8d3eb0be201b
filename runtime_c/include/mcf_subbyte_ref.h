/*
 * mcf_subbyte_ref.h - the arithmetic of the portable sub-byte kernels, written once and
 * instantiated per width by the one-line kernels mcf_*_s8_w4.c / _w2.c (`bits` is a constant
 * there, so the compiler specializes each). Same loops as the int8 reference kernels, with the
 * weight read through mcf_wsub(): field i of the packed array, sign-extended.
 */
#ifndef MCF_SUBBYTE_REF_H
#define MCF_SUBBYTE_REF_H

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_subbyte.h"

/* Element i of a packed weight array of `bits` (4 or 2) bits per value, low field first:
 * (f ^ h) - h sign-extends a field f of `bits` bits, h = 2^(bits-1). */
static inline int32_t mcf_wsub(const uint8_t *packed, size_t i, int32_t bits)
{
    const uint32_t per_log2 = bits == 4 ? 1u : 2u;
    const uint32_t byte = packed[i >> per_log2];
    const uint32_t f = (byte >> ((uint32_t)(i & ((1u << per_log2) - 1u)) * (uint32_t)bits)) & ((1u << bits) - 1u);
    const uint32_t h = 1u << (bits - 1);
    return (int32_t)(f ^ h) - (int32_t)h;
}

static inline int8_t mcf_sub_out(const mcf_requant_sub *rq, int32_t acc, int32_t oc)
{
    acc = mcf_requantize(acc, rq->mult[oc], rq->shift[oc]) + rq->out_zp;
    return mcf_sat_s8(acc, rq->act_min, rq->act_max);
}

/* Any groups; depthwise (groups == in_c) is the case in_per_group == 1. */
static inline void mcf_conv2d_sub(const mcf_conv2d_sub_args *a, const int8_t *in, int8_t *out, int32_t bits)
{
    const mcf_window *w = &a->win;
    const int32_t in_per_group = w->in_c / a->groups;
    const int32_t out_per_group = w->out_c / a->groups;
    const size_t filt_len = (size_t)w->k_h * w->k_w * in_per_group;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            const int32_t iy0 = oy * w->stride_h - w->pad_top;
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                const int32_t ix0 = ox * w->stride_w - w->pad_left;
                for (int32_t oc = 0; oc < w->out_c; ++oc) {
                    const int32_t ic0 = (oc / out_per_group) * in_per_group;
                    int32_t acc = a->bias ? a->bias[oc] : 0;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = iy0 + ky * w->dil_h;
                        if (iy < 0 || iy >= w->in_h) {
                            continue;
                        }
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            const int32_t ix = ix0 + kx * w->dil_w;
                            if (ix < 0 || ix >= w->in_w) {
                                continue;
                            }
                            const int8_t *px = in_n + ((size_t)iy * w->in_w + ix) * w->in_c + ic0;
                            const size_t fk = (size_t)oc * filt_len + ((size_t)ky * w->k_w + kx) * in_per_group;
                            for (int32_t ic = 0; ic < in_per_group; ++ic) {
                                acc += ((int32_t)px[ic] - a->rq.in_zp) * mcf_wsub(a->weights, fk + (size_t)ic, bits);
                            }
                        }
                    }
                    *out++ = mcf_sub_out(&a->rq, acc, oc);
                }
            }
        }
    }
}

static inline void mcf_fully_connected_sub(const mcf_fully_connected_sub_args *a, const int8_t *in, int8_t *out,
                                           int32_t bits)
{
    for (int32_t r = 0; r < a->rows; ++r) {
        const int8_t *x = in + (size_t)r * a->in_features;
        for (int32_t o = 0; o < a->out_features; ++o) {
            const size_t row = (size_t)o * a->in_features;
            int32_t acc = a->bias ? a->bias[o] : 0;
            for (int32_t k = 0; k < a->in_features; ++k) {
                acc += ((int32_t)x[k] - a->rq.in_zp) * mcf_wsub(a->weights, row + (size_t)k, bits);
            }
            *out++ = mcf_sub_out(&a->rq, acc, o);
        }
    }
}

#endif /* MCF_SUBBYTE_REF_H */
