/*
 * int8 depthwise 3x3 convolution (depth multiplier 1, dilation 1, horizontal stride 1 or 2, any
 * vertical stride and padding) for cores with the DSP extension (Cortex-M4, M7, M33), in
 * instructions executed about 1.6x fewer than mcf_depthwise_conv2d_s8_dsp2 (M4, 3x3 64 @24x24).
 *
 * Method. Four channels at a time are widened into four int16 planes with their padding (the zero
 * point): one 32-bit load of four channels of a pixel and one of the next pixel give, through
 * SXTB16 and PKHBT / PKHTB, the column pairs of all four channels (two instructions less per pair
 * than widening channel by channel). Each output channel is then computed from its plane.
 * Six outputs of a row per step in one assembly block, because the measure is executed
 * instructions and the compiler does not keep 14 registers busy. Stride 1: per kernel row one LDM
 * brings the four aligned column pairs (x0,x1) .. (x6,x7) and one LDRD the two weight words
 * A = (w0, w1), B = (w1, w2) of that row, so that every pair is aligned and each output costs two
 * MACs per row:
 *   even output j:  SMLAD (x[j], x[j+1]) . A   + SMLABT x[j+2] * w2
 *   odd output j+1: SMLATB x[j+1] * w0         + SMLAD (x[j+2], x[j+3]) . B
 * Stride 2: output j is SMLAD (x[2j], x[2j+1]) . A + SMLABT x[2j+2] * w2 (seven pairs per row).
 * The six accumulators start from one LDM of the bias; the requantization (mcf_opt.h) takes four
 * instructions per output; blocks walk down a column of the output so that a block's last plane
 * row is the next one's first (two pointer moves per block) and the output pointer steps by one
 * constant; the loop counter rides in the bits 8.. of the shift register (ASR by a register reads
 * its low byte only). A last, partial column of blocks spills its extra outputs onto the start of
 * the next row, which is written again afterwards (see dw3_channel); outputs narrower than three,
 * a partial block's last row and unequal strides run in C.
 * Compile-time preparation (variants/dsp_depthwise.py): per channel A0 B0 A1 B1 A2 B2 (doubled
 * int16 weights), packed_quant as in mcf_opt.h. Scratch: G planes of PH x PW int16 (PW even, rows
 * word aligned for LDM), G = 4 (mcf_depthwise_conv2d_s8_dsp3x3) or 1 (_dsp3x3_1, for big layers).
 * In place: output channels c .. c+G-1 are written only after input channels c .. c+G-1 of every
 * pixel are in the planes, so an output starting exactly at the input is safe.
 */
#include "mcf_arith.h"
#include "mcf_kernels.h"
#include "mcf_opt.h"

/* The block loops' frame, passed by value: AAPCS puts its first four words in r0-r3 and the rest
 * at the callee's sp, so one PUSH of r0-r3 makes it a frame at sp (sp-relative loads free a base
 * register) in the caller's argument area, whose size the caller's stack usage counts; the callee
 * pushes 16 bytes only and keeps the caller's registers in save[]. The byte offsets are those of
 * the assembly below. */
typedef struct {
    int32_t m, rcz, s, ectr;   /*  0: requantization, output channel stride, e | block counter */
    int8_t *o;                 /* 16: output of the next block */
    int32_t ostep;             /* 20: output row pitch minus s */
    int32_t bias[6];           /* 24 */
    int32_t pwb;               /* 48: plane row pitch in bytes (loaded with the bias) */
    int32_t w[6];              /* 52: A0 B0 A1 B1 A2 B2 */
    int32_t ectr0;             /* 76: e | block counter at a column's start */
    int32_t oadv;              /* 80: output pointer step at a column's end */
    int32_t padv;              /* 84: plane pointer step at a column's end */
    int32_t cols;              /* 88 */
    const int16_t *ptr;        /* 92: plane row 1 of the first block */
    int32_t lo, hi;            /* 96: output clamp */
    int32_t save[9];           /* 104: r4-r11, lr of the caller */
    int32_t mode;              /* 140: stride 1: 0 plain, 1 both bounds, 2 ReLU; stride 2: 3, 4, 5 */
} dw3_frame;

void mcf_dw3x3_blocks(dw3_frame f);

/* Twelve MACs: one kernel row of six outputs; x pairs in r6..r9, A in r10, B in r11. */
#define DW3_MACROW                                                     \
    "smlad  r0, r6, r10, r0\n\t"  "smlabt r0, r7, r11, r0\n\t"         \
    "smlatb r1, r6, r10, r1\n\t"  "smlad  r1, r7, r11, r1\n\t"         \
    "smlad  r2, r7, r10, r2\n\t"  "smlabt r2, r8, r11, r2\n\t"         \
    "smlatb r3, r7, r10, r3\n\t"  "smlad  r3, r8, r11, r3\n\t"         \
    "smlad  r4, r8, r10, r4\n\t"  "smlabt r4, r9, r11, r4\n\t"         \
    "smlatb r5, r8, r10, r5\n\t"  "smlad  r5, r9, r11, r5\n\t"

/* Blocks walk down a column of six outputs: the block of output row y reads plane rows y + 1,
 * y, y + 2 in that order (r12 at row y + 1, pitch in lr), so it ends where the next one starts
 * and the pointer moves twice per block. The bias LDM brings the pitch back into lr; after the
 * MACs, m, rcz, s, e | counter, o, ostep in r6..r10, lr. */
#define DW3_BLOCK_MACS                                                 \
    "add   r6, sp, #24\n\t"                                            \
    "ldm   r6, {r0-r5, lr}\n\t"                                        \
    "ldm   r12, {r6-r9}\n\t"                                           \
    "ldrd  r10, r11, [sp, #60]\n\t"                                    \
    DW3_MACROW                                                         \
    "sub   r12, r12, lr\n\t"                                           \
    "ldm   r12, {r6-r9}\n\t"                                           \
    "ldrd  r10, r11, [sp, #52]\n\t"                                    \
    DW3_MACROW                                                         \
    "add   r12, r12, lr, lsl #1\n\t"                                   \
    "ldm   r12, {r6-r9}\n\t"                                           \
    "ldrd  r10, r11, [sp, #68]\n\t"                                    \
    DW3_MACROW                                                         \
    "ldm   sp, {r6-r10, lr}\n\t"

/* Stride 2: output j reads pairs j and j + 1 (columns 2j .. 2j + 3): SMLAD (x[2j], x[2j+1]) . A
 * + SMLABT x[2j+2] * w2; the seven pairs of six outputs come in one LDM and an LDRD + LDR. */
#define DW3_MACROW_S2(WOFF)                                            \
    "ldm   r12, {r6-r9}\n\t"                                           \
    "ldrd  r10, r11, [sp, #" WOFF "]\n\t"                               \
    "smlad  r0, r6, r10, r0\n\t"  "smlabt r0, r7, r11, r0\n\t"         \
    "smlad  r1, r7, r10, r1\n\t"  "smlabt r1, r8, r11, r1\n\t"         \
    "smlad  r2, r8, r10, r2\n\t"  "smlabt r2, r9, r11, r2\n\t"         \
    "smlad  r3, r9, r10, r3\n\t"                                       \
    "ldrd  r6, r7, [r12, #16]\n\t"                                     \
    "ldr   r8, [r12, #24]\n\t"                                         \
    "smlabt r3, r6, r11, r3\n\t"                                       \
    "smlad  r4, r6, r10, r4\n\t"  "smlabt r4, r7, r11, r4\n\t"         \
    "smlad  r5, r7, r10, r5\n\t"  "smlabt r5, r8, r11, r5\n\t"

/* Stride 2 down a column: plane rows 2y, 2y + 1, 2y + 2; the last is the next block's first. */
#define DW3_BLOCK_MACS_S2                                              \
    "add   r6, sp, #24\n\t"                                            \
    "ldm   r6, {r0-r5, lr}\n\t"                                        \
    DW3_MACROW_S2("52")                                                \
    "add   r12, r12, lr\n\t"                                           \
    DW3_MACROW_S2("60")                                                \
    "add   r12, r12, lr\n\t"                                           \
    DW3_MACROW_S2("68")                                                \
    "ldm   sp, {r6-r10, lr}\n\t"

/* mcf_dsp_requant of accumulator A into r11 (m r6, rcz r7, e in the low byte of r9), saturated. */
#define DW3_RQ(A)                                                      \
    MCF_DSP_RQ_ASM("r11", A, "r6", "r7", "r9")                         \
    "ssat  r11, #8, r11\n\t"

/* A channel without a right shift (e = 0, multiplier >= 1/2; a left shift s folded into the taps
 * and bias, A = 2^(s+1) acc): TFLite's SRDHM(2^s acc, m) then RoundingDivideByPOT(., 0), i.e.
 * floor((2^s acc m + 2^30) / 2^31), and single rounding's floor(2^s acc m / 2^31 + 1/2) are the
 * same number, floor((A m + 2^31) / 2^32): one SMMLAR, the output zero point as its addend (r7 =
 * rcz = out_zp). Exact for |A| < 2^31 (mcf_dw3x3_e0 below, variants/dsp_subbyte.py). */
#define DW3_RQ0(A)                                                     \
    "smmlar r11, " A ", r6, r7\n\t"                                   \
    "ssat  r11, #8, r11\n\t"

/* clamp to [r12, lr] */
#define DW3_CL                                                         \
    "cmp   r11, r12\n\t" "it lt\n\t" "movlt r11, r12\n\t"              \
    "cmp   r11, lr\n\t"  "it gt\n\t" "movgt r11, lr\n\t"

/* clamp below at r12 (ReLU: the upper bound is the saturation's 127) */
#define DW3_CL_LO                                                      \
    "cmp   r11, r12\n\t" "it lt\n\t" "movlt r11, r12\n\t"

/* six stores at o + k s (o in r10, s in r8) with one pointer step: offsets s, 2s, 4s from o and
 * 2s, 4s from o + s */
#define DW3_STORES(RQ0, RQ1, RQ2, RQ3, RQ4, RQ5)                       \
    RQ0 "strb  r11, [r10]\n\t"                                         \
    RQ1 "strb  r11, [r10, r8]\n\t"                                     \
    RQ2 "strb  r11, [r10, r8, lsl #1]\n\t"                             \
    RQ4 "strb  r11, [r10, r8, lsl #2]\n\t"                             \
    "add   r10, r10, r8\n\t"                                           \
    RQ3 "strb  r11, [r10, r8, lsl #1]\n\t"                             \
    RQ5 "strb  r11, [r10, r8, lsl #2]\n\t"

/* the block counter steps by 256 and carries out after a column's last block; then the next one */
#define DW3_LOOP_END                                                   \
    "adds  r9, r9, #256\n\t"                                           \
    "strd  r9, r10, [sp, #12]\n\t"                                     \
    "bcc   1b\n\t"                                                     \
    "ldrd  r0, r1, [sp, #76]\n\t"                                      \
    "ldrd  r2, r3, [sp, #84]\n\t"                                      \
    "add   r10, r10, r1\n\t"                                           \
    "add   r12, r12, r2\n\t"                                           \
    "strd  r0, r10, [sp, #12]\n\t"                                     \
    "subs  r3, r3, #1\n\t"                                             \
    "str   r3, [sp, #88]\n\t"                                          \
    "bne   1b\n\t"

/* the frame at sp (see dw3_frame); the mode word picks the block loop (labels L "_s1" ...) */
#define DW3_ENTRY(SYM, L)                                              \
    "\t.global " SYM "\n"                                              \
    "\t.type " SYM ", %function\n"                                     \
    "\t.thumb_func\n"                                                  \
    SYM ":\n\t"                                                        \
    "push  {r0-r3}\n\t"                                                \
    "add   r0, sp, #104\n\t"                                           \
    "stm   r0, {r4-r11, lr}\n\t"                                       \
    "ldr   r12, [sp, #92]\n\t"                                         \
    "ldr   r0, [sp, #140]\n\t"                                         \
    "cmp   r0, #1\n\t"  "beq   " L "_s1_clamp\n\t"                    \
    "cmp   r0, #2\n\t"  "beq   " L "_s1_relu\n\t"                     \
    "cmp   r0, #3\n\t"  "beq   " L "_s2\n\t"                          \
    "cmp   r0, #4\n\t"  "beq   " L "_s2_clamp\n\t"                    \
    "cmp   r0, #5\n\t"  "beq   " L "_s2_relu\n\t"                     \
    "b     " L "_s1\n"                                                 \
    L "_done:\n\t"                                                     \
    "add   r0, sp, #104\n\t"                                           \
    "ldm   r0, {r4-r11, lr}\n\t"                                       \
    "add   sp, sp, #16\n\t"                                            \
    "bx    lr\n"

#define DW3_PROLOGUE(NAME)                                             \
    NAME ":\n"                                                         \
    "1:\n\t"

#define DW3_EPILOGUE(L)                                                \
    "b     " L "_done\n"

/* No clamp (the saturation is the activation's range). */
#define DW3_FN_PLAIN(L, NAME, MACS, RQ)                                \
    DW3_PROLOGUE(L NAME)                                               \
    MACS                                                               \
    DW3_STORES(RQ("r0"), RQ("r1"), RQ("r2"), RQ("r3"), RQ("r4"), RQ("r5")) \
    "add   r10, r10, lr\n\t"                                           \
    DW3_LOOP_END                                                       \
    DW3_EPILOGUE(L)

/* Both bounds: they take r12 / lr (plane pointer, ostep) during the stores. */
#define DW3_FN_CLAMP(L, NAME, MACS, RQ)                                \
    DW3_PROLOGUE(L NAME)                                               \
    MACS                                                               \
    "str   r12, [sp, #92]\n\t"                                         \
    "ldrd  r12, lr, [sp, #96]\n\t"                                     \
    DW3_STORES(RQ("r0") DW3_CL, RQ("r1") DW3_CL, RQ("r2") DW3_CL, RQ("r3") DW3_CL, \
               RQ("r4") DW3_CL, RQ("r5") DW3_CL)                         \
    "ldr   r11, [sp, #20]\n\t"                                         \
    "add   r10, r10, r11\n\t"                                          \
    "ldr   r12, [sp, #92]\n\t"                                         \
    DW3_LOOP_END                                                       \
    DW3_EPILOGUE(L)

/* Lower bound only (ReLU): it takes r12 (plane pointer) during the stores. */
#define DW3_FN_RELU(L, NAME, MACS, RQ)                                 \
    DW3_PROLOGUE(L NAME)                                               \
    MACS                                                               \
    "str   r12, [sp, #92]\n\t"                                         \
    "ldr   r12, [sp, #96]\n\t"                                         \
    DW3_STORES(RQ("r0") DW3_CL_LO, RQ("r1") DW3_CL_LO, RQ("r2") DW3_CL_LO, \
               RQ("r3") DW3_CL_LO, RQ("r4") DW3_CL_LO, RQ("r5") DW3_CL_LO) \
    "add   r10, r10, lr\n\t"                                           \
    "ldr   r12, [sp, #92]\n\t"                                         \
    DW3_LOOP_END                                                       \
    DW3_EPILOGUE(L)

/* One block-loop function: entry, the six loops (stride 1 / 2 x plain / both bounds / ReLU) with
 * the requantization RQ, in a section of its own (unreferenced ones are dropped at link time). */
#define DW3_FUNCTION(SYM, L, RQ)                                       \
    "\t.pushsection .text." SYM ", \"ax\", %progbits\n"                \
    "\t.syntax unified\n"                                              \
    "\t.thumb\n"                                                       \
    "\t.p2align 2\n"                                                   \
    DW3_ENTRY(SYM, L)                                                  \
    DW3_FN_PLAIN(L, "_s1", DW3_BLOCK_MACS, RQ)                         \
    DW3_FN_CLAMP(L, "_s1_clamp", DW3_BLOCK_MACS, RQ)                   \
    DW3_FN_RELU(L, "_s1_relu", DW3_BLOCK_MACS, RQ)                     \
    DW3_FN_PLAIN(L, "_s2", DW3_BLOCK_MACS_S2, RQ)                      \
    DW3_FN_CLAMP(L, "_s2_clamp", DW3_BLOCK_MACS_S2, RQ)                \
    DW3_FN_RELU(L, "_s2_relu", DW3_BLOCK_MACS_S2, RQ)                  \
    "\t.size " SYM ", . - " SYM "\n"                                   \
    "\t.popsection\n"

__asm__(DW3_FUNCTION("mcf_dw3x3_blocks", ".Ldw3", DW3_RQ));

/* The same loops for channels with e = 0 (DW3_RQ0); only the entry points that take a left
 * shift (mcf_depthwise_conv2d_s8_dsp3x3_lsh, _lsh1) reference it, so the int8 ones do not carry it. */
void mcf_dw3x3_blocks_e0(dw3_frame f);
__asm__(DW3_FUNCTION("mcf_dw3x3_blocks_e0", ".Ldw3e0", DW3_RQ0));

/* (lo & 0xFFFF) | (hi << 16) */
static inline uint32_t pkhbt16(uint32_t lo, uint32_t hi)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

/* (hi & 0xFFFF0000) | (lo >> 16) */
static inline uint32_t pkhtb16(uint32_t hi, uint32_t lo)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
    return r;
}

/* Pixels src and src + stride of four channels -> four plane words at d + k * psz. */
static inline __attribute__((always_inline)) void widen4_pair(const int8_t *src, int32_t stride, int16_t *d,
                                                              int32_t psz)
{
    const uint32_t a = (uint32_t)mcf_rd32(src), b = (uint32_t)mcf_rd32(src + stride);
    const uint32_t a02 = __sxtb16(a), a13 = mcf_sxtb16_ror8(a);
    const uint32_t b02 = __sxtb16(b), b13 = mcf_sxtb16_ror8(b);
    mcf_wr32(d, (int32_t)pkhbt16(a02, b02));
    mcf_wr32(d + psz, (int32_t)pkhbt16(a13, b13));
    mcf_wr32(d + 2 * psz, (int32_t)pkhtb16(b02, a02));
    mcf_wr32(d + 3 * psz, (int32_t)pkhtb16(b13, a13));
}

/* One pair of pixels (4 channels each) at src / src + s -> plane words [d], [d + p1], [d + p2],
 * [d + p3]; d steps by 4. Temporaries %[t0] .. %[t4]. */
#define DW3_WIDEN_PAIR(LDA, LDB)                                       \
    LDA LDB                                                            \
    "sxtb16 %[t0], %[t3]\n\t"                                         \
    "sxtb16 %[t1], %[t3], ror #8\n\t"                                 \
    "sxtb16 %[t3], %[t4]\n\t"                                         \
    "sxtb16 %[t4], %[t4], ror #8\n\t"                                 \
    "pkhbt  %[t2], %[t0], %[t3], lsl #16\n\t"                         \
    "pkhtb  %[t0], %[t3], %[t0], asr #16\n\t"                         \
    "pkhbt  %[t3], %[t1], %[t4], lsl #16\n\t"                         \
    "pkhtb  %[t1], %[t4], %[t1], asr #16\n\t"                         \
    "str    %[t3], [%[d], %[p1]]\n\t"                                 \
    "str    %[t0], [%[d], %[p2]]\n\t"                                 \
    "str    %[t1], [%[d], %[p3]]\n\t"                                 \
    "str    %[t2], [%[d]], #4\n\t"

/* Input channels ic .. ic + 3 into four planes (the k-th at p0 + k * psz). */
static void widen4(const mcf_window *w, const int8_t *in_n, int16_t *p0, int32_t psz, int32_t pw, int32_t ic,
                   int32_t y_lo, int32_t y_hi, int32_t x_lo, int32_t x_hi)
{
    const int32_t stride = w->in_c;
    const int32_t cnt = x_hi - x_lo;
    const int32_t p1 = 2 * psz, p2 = 4 * psz, p3 = 6 * psz, s3 = 3 * stride;
    const int8_t *src_row = in_n + ((size_t)y_lo * w->in_w + x_lo) * stride + ic;
    int16_t *d_row = p0 + (y_lo + w->pad_top) * pw + x_lo + w->pad_left;
    for (int32_t iy = y_lo; iy < y_hi; ++iy, src_row += w->in_w * stride, d_row += pw) {
        const int8_t *src = src_row;
        int16_t *d = d_row;
        int32_t quads = cnt >> 2;
        if (quads > 0) {
            /* two pixel pairs per iteration (the loop overhead is spread over 8 words) */
            int32_t t0, t1, t2, t3, t4;
            __asm__ volatile(
                "1:\n\t"
                DW3_WIDEN_PAIR("ldr %[t3], [%[src]]\n\t", "ldr %[t4], [%[src], %[s]]\n\t")
                DW3_WIDEN_PAIR("ldr %[t3], [%[src], %[s], lsl #1]\n\t", "ldr %[t4], [%[src], %[s3]]\n\t")
                "add    %[src], %[src], %[s], lsl #2\n\t"
                "subs   %[n], %[n], #1\n\t"
                "bne    1b\n\t"
                : [src] "+r"(src), [d] "+r"(d), [n] "+r"(quads), [t0] "=&r"(t0), [t1] "=&r"(t1),
                  [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4)
                : [s] "r"(stride), [s3] "r"(s3), [p1] "r"(p1), [p2] "r"(p2), [p3] "r"(p3)
                : "cc", "memory");
        }
        int32_t i = cnt & ~3;
        if (i + 2 <= cnt) {
            const uint32_t a = (uint32_t)mcf_rd32(src), b = (uint32_t)mcf_rd32(src + stride);
            const uint32_t a02 = __sxtb16(a), a13 = mcf_sxtb16_ror8(a);
            const uint32_t b02 = __sxtb16(b), b13 = mcf_sxtb16_ror8(b);
            mcf_wr32(d, (int32_t)pkhbt16(a02, b02));
            mcf_wr32(d + psz, (int32_t)pkhbt16(a13, b13));
            mcf_wr32(d + 2 * psz, (int32_t)pkhtb16(b02, a02));
            mcf_wr32(d + 3 * psz, (int32_t)pkhtb16(b13, a13));
            i += 2;
            src += 2 * stride;
            d += 2;
        }
        if (i < cnt) {
            d[0] = src[0];
            d[psz] = src[1];
            d[2 * psz] = src[2];
            d[3 * psz] = src[3];
        }
    }
}

/* Input channel ic into one plane. */
static void widen1(const mcf_window *w, const int8_t *in_n, int16_t *p, int32_t pw, int32_t ic, int32_t y_lo,
                   int32_t y_hi, int32_t x_lo, int32_t x_hi)
{
    const int32_t stride = w->in_c;
    const int32_t cnt = x_hi - x_lo;
    for (int32_t iy = y_lo; iy < y_hi; ++iy) {
        const int8_t *src = in_n + ((size_t)iy * w->in_w + x_lo) * stride + ic;
        int16_t *d = p + (iy + w->pad_top) * pw + x_lo + w->pad_left;
        int32_t i = 0;
        for (; i + 2 <= cnt; i += 2, src += 2 * stride, d += 2) {
            mcf_wr32(d, (int32_t)pkhbt16((uint32_t)(int32_t)src[0], (uint32_t)(int32_t)src[stride]));
        }
        if (i < cnt) {
            d[0] = src[0];
        }
    }
}

/* the block loops of a channel: mcf_dw3x3_blocks, or mcf_dw3x3_blocks_e0 for a channel with e = 0 */
typedef void (*dw3_loops)(dw3_frame f);

static inline int8_t dw3_out(int32_t acc2, const int32_t *q, int32_t lo, int32_t hi)
{
    /* e = 0 (only from the _lsh entries): floor((acc2 m + 2^31) / 2^32) + out_zp, see DW3_RQ0 */
    const int32_t r = q[3] ? mcf_dsp_requant(acc2, q[1], q[2], q[3]) : mcf_smmlar(acc2, q[1], q[2]);
    const int32_t y = __ssat(r, 8);
    return (int8_t)MCF_CLAMP(y, lo, hi);
}

/* Output rows oy0 .. oy1 - 1, columns ox0 .. out_w - 1, one output at a time (tails, strides
 * other than the blocks'). */
static void dw3_cols(const mcf_window *w, const int16_t *plane, int32_t pw, const int32_t *wk, const int32_t *q,
                     int8_t *out_c0, int32_t oy0, int32_t oy1, int32_t ox0, int32_t lo, int32_t hi)
{
    const int32_t sw = w->stride_w;
    for (int32_t oy = oy0; oy < oy1; ++oy) {
        const int16_t *row = plane + oy * w->stride_h * pw;
        int8_t *o = out_c0 + ((size_t)oy * w->out_w + ox0) * w->out_c;
        for (int32_t ox = ox0; ox < w->out_w; ++ox, o += w->out_c) {
            const int16_t *r = row + ox * sw;
            int32_t acc = q[0];
            acc = __smlad(mcf_rd32(r), wk[0], acc);
            acc = __smlabt(mcf_rd32(r + 2), wk[1], acc);
            acc = __smlad(mcf_rd32(r + pw), wk[2], acc);
            acc = __smlabt(mcf_rd32(r + pw + 2), wk[3], acc);
            acc = __smlad(mcf_rd32(r + 2 * pw), wk[4], acc);
            acc = __smlabt(mcf_rd32(r + 2 * pw + 2), wk[5], acc);
            *o = dw3_out(acc, q, lo, hi);
        }
    }
}

/* `cols` columns of six-output blocks from output column ox0, output rows 0 .. rows - 1, in the
 * assembly loops (stride_w == stride_h, 1 or 2). */
static void dw3_blocks(const mcf_conv2d_s8_args *a, const int16_t *plane, int32_t pw, const int32_t *wk,
                       const int32_t *q, int8_t *out_c0, int32_t ox0, int32_t rows, int32_t cols, dw3_loops loops)
{
    const mcf_window *w = &a->win;
    const int32_t sw = w->stride_w;
    const int32_t orow = w->out_w * w->out_c;
    const int32_t lo = a->rq.act_min, hi = a->rq.act_max;
    dw3_frame f;   /* save[] is the callee's */
    f.m = q[1];
    f.rcz = q[2];
    f.s = w->out_c;
    f.ectr0 = (int32_t)((uint32_t)q[3] + ((0x1000000u - (uint32_t)rows) << 8));
    f.ectr = f.ectr0;
    f.o = out_c0 + ox0 * w->out_c;
    f.ostep = orow - w->out_c;
    for (int32_t i = 0; i < 6; ++i) {
        f.bias[i] = q[0];
        f.w[i] = wk[i];
    }
    f.pwb = 2 * pw;
    f.oadv = 6 * w->out_c - rows * orow;
    f.padv = 12 * sw - rows * sw * pw * 2;
    f.cols = cols;
    f.ptr = plane + ox0 * sw + (sw == 1 ? pw : 0);   /* stride 1 starts a block at its middle row */
    f.lo = lo;
    f.hi = hi;
    f.mode = (sw == 1 ? 0 : 3) + (hi < 127 ? 1 : lo > -128 ? 2 : 0);
    loops(f);
}

/* Output channel oc from its plane. */
static void dw3_channel(const mcf_conv2d_s8_args *a, const int16_t *plane, int32_t pw, int32_t oc, int8_t *out_n,
                        dw3_loops loops_e0)
{
    const mcf_window *w = &a->win;
    const int32_t *wk = (const int32_t *)a->packed_weights + 6 * oc;
    const int32_t *q = a->packed_quant + 4 * oc;
    int8_t *o = out_n + oc;
    const int32_t lo = a->rq.act_min, hi = a->rq.act_max;
    const dw3_loops loops = q[3] == 0 && loops_e0 ? loops_e0 : mcf_dw3x3_blocks;
    if (w->stride_w != w->stride_h) {
        dw3_cols(w, plane, pw, wk, q, o, 0, w->out_h, 0, lo, hi);
        return;
    }
    const int32_t nfull = w->out_w / 6, rem = w->out_w - 6 * nfull;
    if (rem > 0 && w->out_h > 1 && w->out_w >= 3) {
        /* The last, partial column of blocks first: its extra outputs of row y land on the first
         * 6 - rem <= out_w outputs of row y + 1 (the same channel, already widened), which are
         * written again later: by the next block of this column or by the full columns. Its
         * last row would write past the tensor: that one runs in C, and the reads past a plane
         * row's end stay inside the plane (rows below remain). */
        dw3_blocks(a, plane, pw, wk, q, o, 6 * nfull, w->out_h - 1, 1, loops);
        dw3_cols(w, plane, pw, wk, q, o, w->out_h - 1, w->out_h, 6 * nfull, lo, hi);
    } else if (rem > 0) {
        dw3_cols(w, plane, pw, wk, q, o, 0, w->out_h, 6 * nfull, lo, hi);
    }
    if (nfull > 0) {
        dw3_blocks(a, plane, pw, wk, q, o, 0, w->out_h, nfull, loops);
    }
}

static void dw3_run(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out, int32_t group, dw3_loops loops_e0)
{
    const mcf_window *w = &a->win;
    const int32_t ph = (w->out_h - 1) * w->stride_h + 3;
    const int32_t pw = ((w->out_w - 1) * w->stride_w + 4 + 1) & ~1;
    const int32_t psz = ph * pw;
    int16_t *plane = (int16_t *)a->scratch;
    const int32_t y_lo = MCF_MAX(0, -w->pad_top), y_hi = MCF_MIN(w->in_h, ph - w->pad_top);
    const int32_t x_lo = MCF_MAX(0, -w->pad_left), x_hi = MCF_MIN(w->in_w, pw - w->pad_left);
    const uint32_t zp2 = ((uint32_t)(uint16_t)a->rq.in_zp) * 0x10001u;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * w->in_h * w->in_w * w->in_c;
        int8_t *out_n = out + (size_t)n * w->out_h * w->out_w * w->out_c;
        /* the padding (zero point) stays; the interior is rewritten for every group of channels */
        uint32_t *p32 = (uint32_t *)(void *)plane;
        int32_t i = 0;
        for (; i + 4 <= group * psz / 2; i += 4) {
            p32[i] = zp2;
            p32[i + 1] = zp2;
            p32[i + 2] = zp2;
            p32[i + 3] = zp2;
        }
        for (; i < group * psz / 2; ++i) {
            p32[i] = zp2;
        }
        int32_t c = 0;
        if (group == 4) {
            for (; c + 4 <= w->in_c; c += 4) {
                widen4(w, in_n, plane, psz, pw, c, y_lo, y_hi, x_lo, x_hi);
                for (int32_t k = 0; k < 4; ++k) {
                    dw3_channel(a, plane + k * psz, pw, c + k, out_n, loops_e0);
                }
            }
        }
        for (; c < w->in_c; ++c) {
            widen1(w, in_n, plane, pw, c, y_lo, y_hi, x_lo, x_hi);
            dw3_channel(a, plane, pw, c, out_n, loops_e0);
        }
    }
}

/* Four planes (scratch 4 x PH x PW int16). */
void mcf_depthwise_conv2d_s8_dsp3x3(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    dw3_run(a, in, out, 4, 0);
}

/* One plane (scratch PH x PW int16), for layers whose four planes would be too big. */
void mcf_depthwise_conv2d_s8_dsp3x3_1(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    dw3_run(a, in, out, 1, 0);
}

/* The same with channels whose requantization has no right shift (packed_quant e = 0, rcz =
 * out_zp, the left shift s >= 0 folded into the taps and bias as 2^(s+1): DW3_RQ0); the sub-byte
 * depthwise (mcf_subbyte_dsp.h) calls these. Four planes / one plane. */
void mcf_depthwise_conv2d_s8_dsp3x3_lsh(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    dw3_run(a, in, out, 4, mcf_dw3x3_blocks_e0);
}

void mcf_depthwise_conv2d_s8_dsp3x3_lsh1(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    dw3_run(a, in, out, 1, mcf_dw3x3_blocks_e0);
}
