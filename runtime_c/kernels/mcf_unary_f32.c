/* float32 elementwise functions: relu, clip, sigmoid, hard swish, hard sigmoid, tanh, leaky relu,
 * elu, erf, gelu (erf and tanh forms), silu, pow, rsqrt. */
#include <math.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"

void mcf_unary_f32(const mcf_unary_f32_args *a, const float *in, float *out)
{
    for (int32_t i = 0; i < a->size; ++i) {
        const float x = in[i];
        float y;
        switch (a->op) {
        case MCF_RELU:
            y = x > 0.0f ? x : 0.0f;
            break;
        case MCF_CLIP:
            y = MCF_CLAMP(x, a->lo, a->hi);
            break;
        case MCF_SIGMOID:
            y = 1.0f / (1.0f + expf(-x));
            break;
        case MCF_HARDSIGMOID:
            y = MCF_CLAMP(a->alpha * x + a->beta, 0.0f, 1.0f);
            break;
        case MCF_TANH:
            y = tanhf(x);
            break;
        case MCF_LEAKYRELU:
            y = x >= 0.0f ? x : a->alpha * x;
            break;
        case MCF_ELU:
            y = x > 0.0f ? x : a->alpha * expm1f(x);
            break;
        case MCF_ERF:
            y = erff(x);
            break;
        case MCF_GELU:
            y = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
            break;
        case MCF_GELU_TANH:
            y = 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
            break;
        case MCF_SILU:
            y = x / (1.0f + expf(-x));
            break;
        case MCF_POW:
            y = powf(x, a->alpha);
            break;
        case MCF_RSQRT:
            y = 1.0f / sqrtf(x);
            break;
        default: /* MCF_HARDSWISH */
            y = x * MCF_CLAMP(x + 3.0f, 0.0f, 6.0f) / 6.0f;
            break;
        }
        out[i] = y;
    }
}
