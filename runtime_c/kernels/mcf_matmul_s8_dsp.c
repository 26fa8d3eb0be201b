/* int8 batched matrix product for cores with the DSP extension: per batch, B - b_zp is transposed
 * into int16 scratch (each column contiguous, padded to an even length), each row of A - a_zp is
 * widened to int16, and SMLAD takes two products per instruction. The int32 sums are the ones of
 * mcf_matmul_s8.c added in another order (exact: the compiler proved |sum| < 2^31 for every
 * partial sum), so the requantized bytes are identical. Scratch: 2 * (n + 1) * k2 bytes. */
#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"

void mcf_matmul_s8_dsp(const mcf_matmul_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    const int32_t k = a->k, n = a->n, k2 = (a->k + 1) & ~1;
    int16_t *bt = (int16_t *)a->scratch;     /* [n][k2] */
    int16_t *row = bt + n * k2;              /* [k2] */
    for (int32_t b = 0; b < a->batches; ++b) {
        const int8_t *x = in1 + a->a_offsets[b];
        const int8_t *y = in2 + a->b_offsets[b];
        if (b == 0 || a->b_offsets[b] != a->b_offsets[b - 1]) {
            for (int32_t j = 0; j < n; ++j) {
                int16_t *col = bt + j * k2;
                for (int32_t kk = 0; kk < k; ++kk) {
                    col[kk] = (int16_t)((int32_t)y[kk * n + j] - a->b_zp);
                }
                if (k2 != k) {
                    col[k] = 0;
                }
            }
        }
        for (int32_t i = 0; i < a->m; ++i) {
            for (int32_t kk = 0; kk < k; ++kk) {
                row[kk] = (int16_t)((int32_t)x[i * k + kk] - a->a_zp);
            }
            if (k2 != k) {
                row[k] = 0;
            }
            for (int32_t j = 0; j < n; ++j) {
                const int16_t *col = bt + j * k2;
                int32_t acc = 0;
                for (int32_t kk = 0; kk < k2; kk += 2) {
                    acc = __smlad((uint32_t)mcf_rd32(row + kk), (uint32_t)mcf_rd32(col + kk), acc);
                }
                const int32_t v = mcf_requantize(acc, a->mult, a->shift) + a->out_zp;
                *out++ = mcf_sat_s8(v, a->act_min, a->act_max);
            }
        }
    }
}
