/*
 * int8 add of two same-shape tensors for cores with the DSP extension (Cortex-M4, M7, M33).
 *
 * TFLite's arithmetic per input is s = RDBP(SRDHM((x - zp) << 20, m), e) and the output is
 * RDBP(SRDHM(s1 + s2, mo), eo) + zp_out. The portable kernel runs each step in 64-bit C; here each
 * is one or two 32-bit instructions, exactly (the same identities as mcf_dsp_requant in mcf_opt.h):
 *   SRDHM(v, m) = SMMULR(2 v, m) for any v, m (it is floor((v m + 2^30) / 2^31) for both signs),
 *   RDBP(s, e) = (s + 2^(e-1) - [s < 0]) >> e for e >= 1, and [s < 0] may be read off the sign of
 *   the multiplicand (s is 0 where they differ, and then the result is 0 either way).
 * So an input costs LDRSB, RSB (zero point and shift in one), SMMLAR, ADD (sign, ASR #31), ASR.
 * An input whose multiplier is exactly 2^30 with e = 0 (the input of the larger scale: its ratio is
 * 1/2) needs no multiply at all: s = (x - zp) << 19, so 2 s is one RSB. Four loops, one per
 * combination of the two cases, are instantiated from one inline body.
 * Outputs are saturated to int8 (SSAT), packed four per word with BFI and clamped to the fused
 * activation with SSUB8/SEL. Preconditions (variants/dsp_elementwise.py): same shapes, add (not
 * subtract), multipliers >= 0, input shifts <= 0 (multiplier 2^30 where 0), left shift 20, 1 <= -out_shift <= 22.
 * Element i is written after both inputs' element i are read, so exact aliasing is safe.
 */
#include <arm_acle.h>

#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"

typedef struct {
    int32_t zps1, m1, rc1, e1;      /* per input: zp << LS (LS - 1 if exact), multiplier, 2^(e-1), e */
    int32_t zps2, m2, rc2, e2;
    int32_t mo, rcz, eo;            /* output: mcf_dsp_requant constants */
    uint32_t lo4, hi4;
    int32_t clamp;
} add_consts;

/* byte `pos / 8` of r = the low byte of v (GCC does not find BFI for the masked OR) */
#define BFI8(r, v, pos) __asm__("bfi %0, %1, #" #pos ", #8" : "+r"(r) : "r"(v))

/* TFLite's left shift (20, checked by `accepts`) + 1, as an immediate; an exact input shifts by 20 */
#define LS 21

/* 2 s of one input; `exact`: multiplier 2^30, e = 0 */
static inline __attribute__((always_inline)) int32_t scaled2(int32_t x, int32_t zps, int32_t m, int32_t rc,
                                                             int32_t e, const int exact)
{
    if (exact) {
        return (int32_t)(((uint32_t)x << (LS - 1)) - (uint32_t)zps);
    }
    const int32_t t = (int32_t)(((uint32_t)x << LS) - (uint32_t)zps);
    return mcf_dsp_requant(t, m, rc, e) * 2;
}

static inline __attribute__((always_inline)) int32_t add_one(const add_consts *k, int32_t x1, int32_t x2,
                                                             const int exact1, const int exact2)
{
    int32_t sum2;
    if (exact1 || exact2) {
        sum2 = scaled2(x1, k->zps1, k->m1, k->rc1, k->e1, exact1)
             + scaled2(x2, k->zps2, k->m2, k->rc2, k->e2, exact2);
    } else {
        const int32_t t1 = (int32_t)(((uint32_t)x1 << LS) - (uint32_t)k->zps1);
        const int32_t t2 = (int32_t)(((uint32_t)x2 << LS) - (uint32_t)k->zps2);
        const int32_t s1 = mcf_dsp_requant(t1, k->m1, k->rc1, k->e1);
        const int32_t s2 = mcf_dsp_requant(t2, k->m2, k->rc2, k->e2);
        sum2 = (s1 + s2) * 2;
    }
    return __ssat(mcf_dsp_requant(sum2, k->mo, k->rcz, k->eo), 8);
}

static inline __attribute__((always_inline)) void add_loop(const add_consts *k, const int8_t *in1,
                                                           const int8_t *in2, int8_t *out, int32_t n,
                                                           const int exact1, const int exact2)
{
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        /* the barriers keep GCC from loading all eight inputs first (it then runs out of
         * registers for the constants and spills them inside the loop) */
        uint32_t r = (uint32_t)add_one(k, in1[i], in2[i], exact1, exact2);   /* bytes 1..3 are replaced */
        __asm__ volatile("" ::: "memory");
        BFI8(r, add_one(k, in1[i + 1], in2[i + 1], exact1, exact2), 8);
        __asm__ volatile("" ::: "memory");
        BFI8(r, add_one(k, in1[i + 2], in2[i + 2], exact1, exact2), 16);
        __asm__ volatile("" ::: "memory");
        BFI8(r, add_one(k, in1[i + 3], in2[i + 3], exact1, exact2), 24);
        if (k->clamp) {
            r = mcf_min4_s8(mcf_max4_s8(r, k->lo4), k->hi4);
        }
        mcf_wr32(out + i, (int32_t)r);
    }
    for (; i < n; ++i) {
        const int32_t y = add_one(k, in1[i], in2[i], exact1, exact2);
        out[i] = mcf_sat_s8(y, (int8_t)k->lo4, (int8_t)k->hi4);
    }
}

void mcf_add_s8_dsp(const mcf_add_s8_args *a, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    const int32_t e1 = -a->in1_shift, e2 = -a->in2_shift, eo = -a->out_shift;
    const int exact1 = e1 == 0, exact2 = e2 == 0;
    add_consts k = {
        .zps1 = (int32_t)((uint32_t)a->in1_zp << (exact1 ? LS - 1 : LS)), .m1 = a->in1_mult,
        .rc1 = exact1 ? 0 : 1 << (e1 - 1), .e1 = e1,
        .zps2 = (int32_t)((uint32_t)a->in2_zp << (exact2 ? LS - 1 : LS)), .m2 = a->in2_mult,
        .rc2 = exact2 ? 0 : 1 << (e2 - 1), .e2 = e2,
        .mo = a->out_mult,
        .rcz = (int32_t)((1u << (eo - 1)) + (uint32_t)a->out_zp * (1u << eo)), .eo = eo,
        .lo4 = 0x01010101u * (uint8_t)a->act_min, .hi4 = 0x01010101u * (uint8_t)a->act_max,
        .clamp = a->act_min > -128 || a->act_max < 127,
    };
    const int32_t n = a->bc.size;
    if (exact1 && exact2) {
        add_loop(&k, in1, in2, out, n, 1, 1);
    } else if (exact1) {
        add_loop(&k, in1, in2, out, n, 1, 0);
    } else if (exact2) {
        add_loop(&k, in1, in2, out, n, 0, 1);
    } else {
        add_loop(&k, in1, in2, out, n, 0, 0);
    }
}
