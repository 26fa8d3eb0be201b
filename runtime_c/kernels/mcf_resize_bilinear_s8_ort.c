/* int8 bilinear resize as onnxruntime runs a QDQ Resize (requant="ort"): dequantize to float32,
 * UpsampleBilinear's float32 weighted sum in its order, QuantizeLinear (v / scale, round half to
 * even). Every operation is one IEEE float32 operation; the function is compiled with
 * fp-contract=off so that GCC does not fuse a multiply and an add (VFMA on M4F / M7 / M33 / M55,
 * which would skip a rounding), and it uses no libm. */
#include "mcf_kernels.h"

/* (v + 1.5 * 2^23) - 1.5 * 2^23 rounds |v| < 2^22 to an integer, half to even (IEEE default) */
#define MCF_ORT_RNE_MAGIC 12582912.0f

__attribute__((optimize("fp-contract=off")))
void mcf_resize_bilinear_s8_ort(const mcf_resize_bilinear_s8_ort_args *a, const int8_t *in, int8_t *out)
{
    const int32_t c_n = a->channels;
    const int32_t row = a->in_w * c_n;
    const float *deq = a->deq + 128;
    for (int32_t n = 0; n < a->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * a->in_h * row;
        for (int32_t oy = 0; oy < a->out_h; ++oy) {
            const int8_t *r1 = in_n + (size_t)a->y1[oy] * row;
            const int8_t *r2 = in_n + (size_t)a->y2[oy] * row;
            const float dy1 = a->dy1[oy], dy2 = a->dy2[oy];
            for (int32_t ox = 0; ox < a->out_w; ++ox) {
                const float dx1 = a->dx1[ox], dx2 = a->dx2[ox];
                const float w11 = dx2 * dy2, w21 = dx1 * dy2, w12 = dx2 * dy1, w22 = dx1 * dy1;
                const int8_t *p11 = r1 + (size_t)a->x1[ox] * c_n, *p21 = r1 + (size_t)a->x2[ox] * c_n;
                const int8_t *p12 = r2 + (size_t)a->x1[ox] * c_n, *p22 = r2 + (size_t)a->x2[ox] * c_n;
                for (int32_t c = 0; c < c_n; ++c) {
                    float v = w11 * deq[p11[c]] + w21 * deq[p21[c]];
                    v = v + w12 * deq[p12[c]];
                    v = v + w22 * deq[p22[c]];
                    float q = v / a->out_scale;
                    q = q < a->q_lo ? a->q_lo : (q > a->q_hi ? a->q_hi : q);
                    q = (q + MCF_ORT_RNE_MAGIC) - MCF_ORT_RNE_MAGIC;
                    *out++ = (int8_t)((int32_t)q + a->out_zp);
                }
            }
        }
    }
}
