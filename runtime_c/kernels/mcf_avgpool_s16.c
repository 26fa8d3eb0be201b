/* int16 average pooling: int32 sum of the window (at most 65536 cells of |x| <= 32768), divided by
 * its count with TFLite's rounding (half away from zero); padding excluded from the count unless
 * count_include_pad (then padded cells hold pad_value, the zero point 0). */
#include "mcf_arith_s16.h"
#include "mcf_kernels.h"

void mcf_avgpool_s16(const mcf_pool_s8_args *a, const int16_t *in, int16_t *out)
{
    const mcf_window *w = &a->win;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int16_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        for (int32_t oy = 0; oy < w->out_h; ++oy) {
            for (int32_t ox = 0; ox < w->out_w; ++ox) {
                for (int32_t c = 0; c < w->in_c; ++c) {
                    int32_t acc = 0;
                    int32_t count = 0;
                    for (int32_t ky = 0; ky < w->k_h; ++ky) {
                        const int32_t iy = oy * w->stride_h - w->pad_top + ky * w->dil_h;
                        for (int32_t kx = 0; kx < w->k_w; ++kx) {
                            const int32_t ix = ox * w->stride_w - w->pad_left + kx * w->dil_w;
                            if (iy < 0 || iy >= w->in_h || ix < 0 || ix >= w->in_w) {
                                if (a->count_include_pad) {
                                    acc += a->pad_value;
                                    ++count;
                                }
                                continue;
                            }
                            acc += in_n[((size_t)iy * w->in_w + ix) * w->in_c + c];
                            ++count;
                        }
                    }
                    const int32_t avg = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    *out++ = mcf_sat_s16(avg, a->act_min, a->act_max);
                }
            }
        }
    }
}
