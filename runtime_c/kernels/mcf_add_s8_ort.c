/* int8 add / subtract with broadcasting as onnxruntime runs a QDQ Add (requant="ort"): the
 * float32 sum of the two dequantized inputs, divided by the output scale in float32 and rounded
 * half to even, reproduced bit for bit with integers (no FPU). Two int32 look-ups give the exact
 * value in fixed point; only within eps of a step (a few pairs in 10^4) does the exact float32
 * sum (from the inputs' float32 bits) meet the threshold staircase (reference/ort_float.py proves
 * the tables on all 65,536 input pairs at compile time). */
#include "mcf_arith.h"
#include "mcf_broadcast.h"

#define MCF_ADD_ORT_MASK ((1 << MCF_ADD_ORT_FRAC_BITS) - 1)

/* A normal float32 (or zero) from its bits, divided by 2^k, as an exact integer (k is at most the
 * weight of its lowest mantissa bit: the shift is >= 0). */
static int64_t ort_exact(uint32_t bits, int32_t k)
{
    if ((bits & 0x7FFFFFFFu) == 0) {
        return 0;
    }
    const int64_t m = (int64_t)((bits & 0x7FFFFFu) | 0x800000u);
    const int64_t v = m << ((int32_t)((bits >> 23) & 0xFFu) - 150 - k);
    return (bits >> 31) ? -v : v;
}

/* The rare cases: e within MCF_ADD_ORT_EPS of a step (the exact float32 sum against the
 * thresholds), or an output beyond [act_min, act_max] (clamped). */
static int8_t add_ort_slow(const mcf_add_s8_ort_args *a, uint32_t u1, uint32_t u2, int32_t e)
{
    const int32_t f = e & MCF_ADD_ORT_MASK;
    const int32_t y = e >> MCF_ADD_ORT_FRAC_BITS;
    const int32_t steps = a->act_max - a->act_min;
    if (f >= MCF_ADD_ORT_EPS && f <= MCF_ADD_ORT_MASK - MCF_ADD_ORT_EPS) {
        return (int8_t)(y < a->act_min ? a->act_min : y > a->act_max ? a->act_max : y);
    }
    const int64_t s = ort_exact(a->fa_bits[u1], a->unit_exp) + ort_exact(a->fb_bits[u2], a->unit_exp);
    int32_t j = y < a->act_min ? 0 : y > a->act_max ? steps : y - a->act_min;
    while (j < steps && s >= a->thresholds[j]) {
        ++j;
    }
    while (j > 0 && s < a->thresholds[j - 1]) {
        --j;
    }
    return (int8_t)(a->act_min + j);
}

/* Hot path, the struct's fields in locals (the int8 stores may alias anything read through a
 * pointer): (f - EPS) > MASK - 2 EPS unsigned is "within EPS of a step", y - act_min > steps
 * unsigned "outside the clamp range". */
static void add_ort_flat(const mcf_add_s8_ort_args *a, const uint8_t *in1, const uint8_t *in2, int8_t *out,
                         const uint8_t *end)
{
    const int32_t *ea = a->ea, *eb = a->eb;
    const int32_t lo = a->act_min;
    const uint32_t steps = (uint32_t)(a->act_max - a->act_min);
    while (in1 < end) {
        const uint32_t u1 = *in1++, u2 = *in2++;
        const int32_t e = ea[u1] + eb[u2];
        const int32_t y = e >> MCF_ADD_ORT_FRAC_BITS;
        if ((uint32_t)((e & MCF_ADD_ORT_MASK) - MCF_ADD_ORT_EPS) > MCF_ADD_ORT_MASK - 2 * MCF_ADD_ORT_EPS ||
            (uint32_t)(y - lo) > steps) {
            *out++ = add_ort_slow(a, u1, u2, e);
        } else {
            *out++ = (int8_t)y;
        }
    }
}

__attribute__((noinline))
static void add_ort_broadcast(const mcf_add_s8_ort_args *a, const uint8_t *in1, const uint8_t *in2, int8_t *out)
{
    mcf_bc_iter it;
    mcf_bc_begin(&it);
    for (int32_t i = 0; i < a->bc.size; ++i) {
        const uint32_t u1 = in1[it.a_off], u2 = in2[it.b_off];
        out[i] = add_ort_slow(a, u1, u2, a->ea[u1] + a->eb[u2]);
        mcf_bc_next(&a->bc, &it);
    }
}

void mcf_add_s8_ort(const mcf_add_s8_ort_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    /* the tables are indexed by the input byte read as unsigned: x for x >= 0, x + 256 below */
    const uint8_t *u1 = (const uint8_t *)in1, *u2 = (const uint8_t *)in2;
    if (a->bc.same_shape) {
        add_ort_flat(a, u1, u2, out, u1 + a->bc.size);
    } else {
        add_ort_broadcast(a, u1, u2, out);
    }
}
