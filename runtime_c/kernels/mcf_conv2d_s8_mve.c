/*
 * int8 2-D convolution (groups == 1) for Cortex-M55 with Helium (MVE).
 *
 * Method: the patches (K = k_h * k_w * in_c values) of two output pixels at a time, then a matrix
 * kernel over all output channels in blocks of 4 channels x 2 pixels. Per 16 values of K: two
 * patch loads, four weight loads and eight VMLADAVA (16 int8 MACs each into a scalar
 * accumulator): 128 MACs in 14 instructions plus the loop branch. The requantization of a block
 * runs on two vectors (the 4 channels of each pixel): folded bias, [VSHL], VQRDMULH (TFLite's
 * saturating rounding doubling high multiply), a sign fix-up and VRSHL (rounding divide by a
 * power of two, half away from zero), zero point, activation clamp, one 4-byte store per pixel.
 *
 * Why the matrix kernel is assembly: VMLADAVA only accumulates into an even register, and eight
 * accumulators need all of them (r0 ... r12 and lr). GCC 12 then moved accumulators between
 * registers inside the K loop and spilled the channel loop's variables (that C version: 1.74
 * MAC/instruction on the 32->64 pointwise benchmark layer, 2.59 on the 3x3 one). Written by hand,
 * the K loop is the 14 instructions above, unrolled twice, plus SUBS/BNE (lr is an accumulator,
 * so no low-overhead loop), and nothing spills: the per-call state sits in a small context
 * struct read with immediate offsets.
 *
 * Patches: a 1x1 convolution over whole vectors of input channels reads its input rows in place,
 * unless the pixel pair's output would overwrite input still to be read (in-place arena plans
 * overlap them); everything else is gathered into two scratch patches of K16 bytes (K rounded up
 * to 16; the bytes past K are never written, they meet zero weights only): windows inside the
 * image with rows of whole vectors row by row, other windows row by row between fills of the
 * input zero point (folded into the bias at compile time), dilated columns tap by tap. Reading
 * 3x3 windows in place as well was tried: in the benchmark's in-place plan the output of the
 * second pixel always overlaps the first pixel's window, and the extra row loop slowed the rest.
 *
 * Compile-time preparation (variants/mve.py):
 *   packed_weights: int8 [out_c / 4][K16 / 16][4 channels][16] (channels rounded up to 4, zero
 *     padded), read by one pointer from the first block to the last.
 *   packed_quant (mve_quant_conv): a mode word and 3 padding words, then per group of 4 channels
 *     folded biases (bias - in_zp * sum(w)), [left shifts], multipliers, [fix-up masks], negated
 *     right shifts.
 * Scratch: the two patches (16-byte aligned).
 */
#include <arm_mve.h>

#include "mcf_kernels.h"
#include "mcf_mve_requant.h"

/* The state of one call of the matrix kernel; field offsets are used by the assembly below. */
typedef struct mcf_mve_gemm_ctx mcf_mve_gemm_ctx;
struct mcf_mve_gemm_ctx {
    const int8_t *x0, *x1;      /*  0,  4: patches of the two pixels (x1 == x0 for one pixel) */
    int8_t *o0, *o1;            /*  8, 12: their outputs, advanced by the kernel */
    const int8_t *w;            /* 16: packed weights of the first channel group */
    const int32_t *q;           /* 20: packed constants of the first channel group */
    const int32_t *q_end;       /* 24: end of the constants of the last group */
    int32_t kb1;                /* 28: K16 / 16 - 1 */
    int32_t out_zp;             /* 32 */
    int32_t act_min, act_max;   /* 36, 40 */
    void (*build)(mcf_mve_gemm_ctx *c);   /* 44: the kernel build, entered through
                                           * mcf_conv2d_s8_mve_gemm (a direct call for the
                                           * stack bound from GCC's call graph) */
    uint32_t save[17];          /* 48: r4-r11, lr, then d8-d11 of the caller: the kernel uses no
                                 * stack, so that bound (64 bytes per assembly callee) holds */
};

/* Register use: r9 = context, r5 = weights, r11 = constants, r1/r3 = patch pointers then output
 * pointers, r7 = K counter then the output zero point; accumulators (pixel 0: r0 r2 r4 r6,
 * pixel 1: r8 r10 r12 lr) for channels 0..3; q0/q1 = patch vectors, then the requantized
 * vectors of the two pixels; q2/q3 = weights, then constants and temporaries; q4/q5 = activation
 * bounds (q6/q7 stay unused: fewer callee-saved registers to keep). The first K step uses VMLADAV
 * (no accumulate), which initializes the accumulators for free. The two-lane VMOV puts its first
 * register in the lower lane. Three builds of the same kernel differ in the requantization:
 * the fix-up mask is left out when every channel shifts right (then the fix-up is simply -1 for
 * negative values), the left shift also when no channel shifts left (a channel that shifts left
 * does not shift right, so there is no build with a left shift but without the mask); the
 * constants stored per group follow (see mve_quant_conv in variants/mve.py). */
#define MCF_MVE_K_STEP(OP)                                                                        \
    "   vldrb.u8 q0, [r1], #16\n"                                                                 \
    "   vldrb.u8 q1, [r3], #16\n"                                                                 \
    "   vldrb.u8 q2, [r5], #16\n"                                                                 \
    "   " OP " r0, q0, q2\n"                                                                      \
    "   " OP " r8, q1, q2\n"                                                                      \
    "   vldrb.u8 q3, [r5], #16\n"                                                                 \
    "   " OP " r2, q0, q3\n"                                                                      \
    "   " OP " r10, q1, q3\n"                                                                     \
    "   vldrb.u8 q2, [r5], #16\n"                                                                 \
    "   " OP " r4, q0, q2\n"                                                                      \
    "   " OP " r12, q1, q2\n"                                                                     \
    "   vldrb.u8 q3, [r5], #16\n"                                                                 \
    "   " OP " r6, q0, q3\n"                                                                      \
    "   " OP " lr, q1, q3\n"

#define MCF_MVE_SHL                                                                               \
    "   vldrw.u32 q2, [r11], #16\n"                                                               \
    "   vshl.s32 q0, q0, q2\n"                                                                    \
    "   vshl.s32 q1, q1, q2\n"

/* TFLite's away-from-zero fix-up before VRSHL (mcf_mve_requant.h); none with one rounding, whose
 * constants (mve_quant_conv) then never ask for the mask */
#if MCF_SINGLE_ROUNDING
#define MCF_MVE_FIX_MASK ""
#define MCF_MVE_FIX_ALL ""
#else
#define MCF_MVE_FIX_MASK                                                                          \
    "   vldrw.u32 q2, [r11], #16\n"                                                               \
    "   vshr.s32 q3, q0, #31\n"                                                                   \
    "   vand q3, q3, q2\n"                                                                        \
    "   vqadd.s32 q0, q0, q3\n"                                                                   \
    "   vshr.s32 q3, q1, #31\n"                                                                   \
    "   vand q3, q3, q2\n"                                                                        \
    "   vqadd.s32 q1, q1, q3\n"

#define MCF_MVE_FIX_ALL                                                                           \
    "   vshr.s32 q3, q0, #31\n"                                                                   \
    "   vqadd.s32 q0, q0, q3\n"                                                                   \
    "   vshr.s32 q3, q1, #31\n"                                                                   \
    "   vqadd.s32 q1, q1, q3\n"
#endif

#define MCF_MVE_GEMM4X2(NAME, SHL, FIX)                                                           \
    __asm__("   .pushsection .text." NAME ",\"ax\",%progbits\n"                                  \
            "   .syntax unified\n"                                                                \
            "   .thumb\n"                                                                         \
            "   .align 2\n"                                                                       \
            "   .global " NAME "\n"                                                               \
            "   .thumb_func\n"                                                                    \
            "   .type " NAME ", %function\n"                                                      \
            NAME ":\n"                                                                            \
            "   add r1, r0, #48\n"                                                                \
            "   stmia r1!, {r4-r11, lr}\n"                                                        \
            "   vstmia r1, {d8-d11}\n"                                                            \
            "   mov r9, r0\n"                                                                     \
            "   ldr r0, [r9, #36]\n"                                                              \
            "   ldr r1, [r9, #40]\n"                                                              \
            "   vdup.32 q4, r0\n"                                                                 \
            "   vdup.32 q5, r1\n"                                                                 \
            "   ldr r5, [r9, #16]\n"                                                              \
            "   ldr r11, [r9, #20]\n"                                                             \
            "1:\n"                                                                                \
            "   ldr r1, [r9, #0]\n"                                                               \
            "   ldr r3, [r9, #4]\n"                                                               \
            "   ldr r7, [r9, #28]\n"                                                              \
            MCF_MVE_K_STEP("vmladav.s8")                                                          \
            "   lsrs r7, r7, #1\n"                                                                \
            "   bcc 4f\n"                                                                         \
            MCF_MVE_K_STEP("vmladava.s8")                                                         \
            "4:\n"                                                                                \
            "   cbz r7, 3f\n"                                                                     \
            "2:\n"                                                                                \
            MCF_MVE_K_STEP("vmladava.s8")                                                         \
            MCF_MVE_K_STEP("vmladava.s8")                                                         \
            "   subs r7, #1\n"                                                                    \
            "   bne 2b\n"                                                                         \
            "3:\n"                                                                                \
            "   vmov q0[2], q0[0], r0, r4\n"                                                      \
            "   vmov q0[3], q0[1], r2, r6\n"                                                      \
            "   vmov q1[2], q1[0], r8, r12\n"                                                     \
            "   vmov q1[3], q1[1], r10, lr\n"                                                     \
            "   ldr r1, [r9, #8]\n"                                                               \
            "   ldr r3, [r9, #12]\n"                                                              \
            "   ldr r7, [r9, #32]\n"                                                              \
            "   vldrw.u32 q2, [r11], #16\n"                                                       \
            "   vadd.i32 q0, q0, q2\n"                                                            \
            "   vadd.i32 q1, q1, q2\n"                                                            \
            SHL                                                                                   \
            "   vldrw.u32 q2, [r11], #16\n"                                                       \
            "   " MCF_MVE_RQ_MUL_ASM " q0, q0, q2\n"                                              \
            "   " MCF_MVE_RQ_MUL_ASM " q1, q1, q2\n"                                              \
            FIX                                                                                   \
            "   vldrw.u32 q2, [r11], #16\n"                                                       \
            "   vrshl.s32 q0, q0, q2\n"                                                           \
            "   vrshl.s32 q1, q1, q2\n"                                                           \
            "   vadd.i32 q0, q0, r7\n"                                                            \
            "   vadd.i32 q1, q1, r7\n"                                                            \
            "   vmax.s32 q0, q0, q4\n"                                                            \
            "   vmax.s32 q1, q1, q4\n"                                                            \
            "   vmin.s32 q0, q0, q5\n"                                                            \
            "   vmin.s32 q1, q1, q5\n"                                                            \
            "   vstrb.32 q0, [r1], #4\n"                                                          \
            "   vstrb.32 q1, [r3], #4\n"                                                          \
            "   str r1, [r9, #8]\n"                                                               \
            "   str r3, [r9, #12]\n"                                                              \
            "   ldr r0, [r9, #24]\n"                                                              \
            "   cmp r11, r0\n"                                                                    \
            "   bne 1b\n"                                                                         \
            "   add r0, r9, #84\n"                                                                \
            "   vldmia r0, {d8-d11}\n"                                                            \
            "   add r0, r9, #48\n"                                                                \
            "   ldmia r0, {r4-r11, pc}\n"                                                         \
            "   .size " NAME ", .-" NAME "\n"                                                     \
            "   .popsection\n")

void mcf_conv2d_s8_mve_gemm4x2(mcf_mve_gemm_ctx *c);
void mcf_conv2d_s8_mve_gemm4x2_mask(mcf_mve_gemm_ctx *c);
void mcf_conv2d_s8_mve_gemm4x2_shl_mask(mcf_mve_gemm_ctx *c);
MCF_MVE_GEMM4X2("mcf_conv2d_s8_mve_gemm4x2", "", MCF_MVE_FIX_ALL);
MCF_MVE_GEMM4X2("mcf_conv2d_s8_mve_gemm4x2_mask", "", MCF_MVE_FIX_MASK);
MCF_MVE_GEMM4X2("mcf_conv2d_s8_mve_gemm4x2_shl_mask", MCF_MVE_SHL, MCF_MVE_FIX_MASK);

void mcf_conv2d_s8_mve_gemm(mcf_mve_gemm_ctx *c);
__asm__("   .pushsection .text.mcf_conv2d_s8_mve_gemm,\"ax\",%progbits\n"
        "   .syntax unified\n"
        "   .thumb\n"
        "   .align 2\n"
        "   .global mcf_conv2d_s8_mve_gemm\n"
        "   .thumb_func\n"
        "   .type mcf_conv2d_s8_mve_gemm, %function\n"
        "mcf_conv2d_s8_mve_gemm:\n"
        "   ldr pc, [r0, #44]\n"
        "   .size mcf_conv2d_s8_mve_gemm, .-mcf_conv2d_s8_mve_gemm\n"
        "   .popsection\n");

/* Whole vectors, then the last 1..15 bytes under a predicate (never reads past the row). The
 * predicated tail is written as assembly: GCC 12 moves the VCTP predicate through a general
 * register and back (four extra instructions) for every predicated intrinsic. */
static inline __attribute__((always_inline)) void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 16; n -= 16, src += 16, dst += 16) {
        vst1q_s8(dst, vld1q_s8(src));
    }
    if (n > 0) {
        __asm__ volatile("vctp.8 %2\n\tvpstt\n\tvldrbt.u8 q0, [%1]\n\tvstrbt.8 q0, [%0]"
                         : : "r"(dst), "r"(src), "r"(n) : "q0", "memory");
    }
}

static inline __attribute__((always_inline)) void fill_bytes(int8_t *dst, int8x16_t x, int32_t n)
{
    for (; n >= 16; n -= 16, dst += 16) {
        vst1q_s8(dst, x);
    }
    if (n > 0) {
        __asm__ volatile("vctp.8 %1\n\tvpst\n\tvstrbt.8 %q2, [%0]" : : "r"(dst), "r"(n), "w"(x) : "memory");
    }
}

/* rows x nv vectors, rows step bytes apart in the input: a window inside the image whose rows are
 * whole vectors. Assembly for the same reason as the matrix kernel: GCC spends eight
 * instructions per row setting up the vector loop. */
void mcf_conv2d_s8_mve_copy_rows(int8_t *dst, const int8_t *src, int32_t rows, int32_t nv, int32_t step);
__asm__("   .pushsection .text.mcf_conv2d_s8_mve_copy_rows,\"ax\",%progbits\n"
        "   .syntax unified\n"
        "   .thumb\n"
        "   .align 2\n"
        "   .global mcf_conv2d_s8_mve_copy_rows\n"
        "   .thumb_func\n"
        "   .type mcf_conv2d_s8_mve_copy_rows, %function\n"
        "mcf_conv2d_s8_mve_copy_rows:\n"
        "   push {r4, r5, r7, lr}\n"
        "   ldr r4, [sp, #16]\n"
        "1:\n"
        "   mov r5, r1\n"
        "   dls lr, r3\n"
        "2:\n"
        "   vldrb.u8 q0, [r5], #16\n"
        "   vstrb.8 q0, [r0], #16\n"
        "   le lr, 2b\n"
        "   add r1, r4\n"
        "   subs r2, #1\n"
        "   bne 1b\n"
        "   pop {r4, r5, r7, pc}\n"
        "   .size mcf_conv2d_s8_mve_copy_rows, .-mcf_conv2d_s8_mve_copy_rows\n"
        "   .popsection\n");

/* rows x words 32-bit words, rows step bytes apart in the input, to dst (rows of 4 * words bytes):
 * a window inside the image whose rows are shorter than a vector and a multiple of 4 bytes
 * (kws_dscnn's first layer, 10x4 taps of one channel: 10 LDR/STR pairs instead of 10 predicated
 * row copies in patch()). */
static inline __attribute__((always_inline)) void copy_words(int8_t *dst, const int8_t *src, int32_t rows,
                                                             int32_t words, int32_t step)
{
    uint32_t *d = (uint32_t *)dst;
    for (int32_t r = 0; r < rows; ++r, src += step) {
        for (int32_t i = 0; i < words; ++i) {
            uint32_t v;
            __builtin_memcpy(&v, src + 4 * i, 4);
            *d++ = v;
        }
    }
}

/* The patch of a window whose top-left tap is (iy0, ix0), gathered into col: taps outside the
 * image are the input zero point (folded into the bias). The geometry is copied into locals
 * first: stores through int8_t pointers may alias anything, so fields read through a pointer
 * would be reloaded after every store. */
static void __attribute__((noinline)) patch(const mcf_conv2d_s8_args *a, const int8_t *in_n, int32_t iy0,
                                            int32_t ix0, int8_t *col)
{
    const mcf_window *w = &a->win;
    const int32_t in_h = w->in_h, in_w = w->in_w, c = w->in_c, k_h = w->k_h, k_w = w->k_w;
    const int32_t dil_h = w->dil_h, dil_w = w->dil_w, row = k_w * c;
    const int8x16_t zp = vdupq_n_s8((int8_t)a->rq.in_zp);
    if (dil_w != 1) {
        /* dilated columns: tap by tap */
        for (int32_t ky = 0, iy = iy0; ky < k_h; ++ky, iy += dil_h) {
            for (int32_t kx = 0, ix = ix0; kx < k_w; ++kx, ix += dil_w, col += c) {
                if ((uint32_t)iy < (uint32_t)in_h && (uint32_t)ix < (uint32_t)in_w) {
                    copy_bytes(col, in_n + (iy * in_w + ix) * c, c);
                } else {
                    fill_bytes(col, zp, c);
                }
            }
        }
        return;
    }
    /* each window row: one copy of its taps inside the image between fills for the taps left
     * and right of it */
    int32_t kx0 = ix0 < 0 ? -ix0 : 0;             /* the taps [kx0, kx1) are inside the image */
    int32_t kx1 = in_w - ix0 < k_w ? in_w - ix0 : k_w;
    if (kx0 > k_w) {
        kx0 = k_w;
    }
    if (kx1 < kx0) {
        kx1 = kx0;
    }
    const int32_t lead = kx0 * c, mid = (kx1 - kx0) * c, trail = row - lead - mid;
    for (int32_t ky = 0, iy = iy0; ky < k_h; ++ky, iy += dil_h, col += row) {
        if ((uint32_t)iy < (uint32_t)in_h && mid > 0) {
            fill_bytes(col, zp, lead);
            copy_bytes(col + lead, in_n + (iy * in_w + ix0 + kx0) * c, mid);
            fill_bytes(col + lead + mid, zp, trail);
        } else {
            fill_bytes(col, zp, row);
        }
    }
}

/* The layer's a->win.out_c output channels written at out[p * out_stride + c] (the whole layer:
 * out_stride = out_c; mcf_subbyte_mve.h runs it on blocks of channels of a wider output). */
void mcf_conv2d_s8_mve_block(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out, int32_t out_stride)
{
    const mcf_window *w = &a->win;
    const int32_t k = w->k_h * w->k_w * w->in_c;
    const int32_t kpad = (k + 15) & ~15;
    const int32_t full = w->out_c >> 2;        /* channel groups stored whole */
    int8_t *col0 = (int8_t *)(((uintptr_t)a->scratch + 15u) & ~(uintptr_t)15u);
    int8_t *col1 = col0 + kpad;
    const int8_t *wt = (const int8_t *)a->packed_weights;
    /* mode 0: every channel shifts right; 2: some do not (fix-up mask); 3: and some shift left */
    const int32_t mode = a->packed_quant[0];
    const int32_t qstride = 12 + 4 * (mode >> 1) + 4 * (mode & 1);   /* words per channel group */
    const int32_t *qt = a->packed_quant + 4;
    /* 1x1, no padding, whole vectors of input channels: the patch of a pixel is its input row,
     * read in place unless the pixel pair's output would overwrite input still to be read */
    const int direct = w->k_h == 1 && w->k_w == 1 && w->pad_top == 0 && w->pad_left == 0 &&
                       (w->in_c & 15) == 0 && (w->out_h - 1) * w->stride_h < w->in_h &&
                       (w->out_w - 1) * w->stride_w < w->in_w;
    /* windows inside the image with rows of whole vectors are copied row by row: top-left
     * corner in [0, iy_max] x [0, ix_max] (fast == 0: none) */
    const int32_t row = w->k_w * w->in_c;
    const int32_t iy_max = w->in_h - 1 - (w->k_h - 1) * w->dil_h, ix_max = w->in_w - w->k_w;
    const int fast = w->dil_w == 1 && (row & 15) == 0 && iy_max >= 0 && ix_max >= 0;
    /* ... and those with short rows of whole words word by word */
    const int small = w->dil_w == 1 && (row & 3) == 0 && row < 16 && iy_max >= 0 && ix_max >= 0;
    const int32_t row_in = w->dil_h * w->in_w * w->in_c;       /* input bytes between window rows */
    /* the kernel only advances the output pointers */
    mcf_mve_gemm_ctx c;
    c.kb1 = (kpad >> 4) - 1;
    c.out_zp = a->rq.out_zp;
    c.act_min = a->rq.act_min;
    c.act_max = a->rq.act_max;
    c.w = wt;
    c.q = qt;
    c.q_end = qt + qstride * full;
    c.build = mode == 0 ? mcf_conv2d_s8_mve_gemm4x2
            : mode == 2 ? mcf_conv2d_s8_mve_gemm4x2_mask
                        : mcf_conv2d_s8_mve_gemm4x2_shl_mask;
    const int32_t oc_n = w->out_c, tail = oc_n & 3;
    const int32_t npix = w->out_h * w->out_w, out_w = w->out_w;
    const int32_t px_step = w->stride_w * w->in_c;             /* input bytes between pixels of a row */
    const int32_t row_step = w->stride_h * w->in_w * w->in_c;  /* ... between output rows */
    const size_t in_size = (size_t)w->in_h * w->in_w * w->in_c;
    for (int32_t n = 0; n < w->batch; ++n) {
        const int8_t *in_n = in + (size_t)n * in_size;
        const uintptr_t in_end = (uintptr_t)(in_n + in_size);
        int8_t *o0 = out + (size_t)n * npix * out_stride;
        int32_t oy = 0, ox = 0;
        for (int32_t p = 0; p < npix; p += 2, o0 += 2 * out_stride) {
            const int two = p + 1 < npix;
            int32_t oy1 = oy, ox1 = ox + 1;
            if (ox1 == out_w) {
                ox1 = 0;
                ++oy1;
            }
            int8_t *const o1 = two ? o0 + out_stride : o0;
            const int8_t *x0 = direct ? in_n + oy * row_step + ox * px_step : NULL;
            if (x0 != NULL && ((uintptr_t)(o1 + oc_n) <= (uintptr_t)x0 || (uintptr_t)o0 >= in_end)) {
                c.x0 = x0;
                c.x1 = two ? in_n + oy1 * row_step + ox1 * px_step : x0;
            } else {
                const int32_t iy0 = oy * w->stride_h - w->pad_top, ix0 = ox * w->stride_w - w->pad_left;
                const int32_t iy1 = oy1 * w->stride_h - w->pad_top, ix1 = ox1 * w->stride_w - w->pad_left;
                const int in0 = (uint32_t)iy0 <= (uint32_t)iy_max && (uint32_t)ix0 <= (uint32_t)ix_max;
                const int in1 = (uint32_t)iy1 <= (uint32_t)iy_max && (uint32_t)ix1 <= (uint32_t)ix_max;
                if (fast && in0) {
                    mcf_conv2d_s8_mve_copy_rows(col0, in_n + (iy0 * w->in_w + ix0) * w->in_c, w->k_h, row >> 4, row_in);
                } else if (small && in0) {
                    copy_words(col0, in_n + (iy0 * w->in_w + ix0) * w->in_c, w->k_h, row >> 2, row_in);
                } else {
                    patch(a, in_n, iy0, ix0, col0);
                }
                c.x0 = c.x1 = col0;
                if (two) {
                    if (fast && in1) {
                        mcf_conv2d_s8_mve_copy_rows(col1, in_n + (iy1 * w->in_w + ix1) * w->in_c, w->k_h, row >> 4,
                                                    row_in);
                    } else if (small && in1) {
                        copy_words(col1, in_n + (iy1 * w->in_w + ix1) * w->in_c, w->k_h, row >> 2, row_in);
                    } else {
                        patch(a, in_n, iy1, ix1, col1);
                    }
                    c.x1 = col1;
                }
            }
            if (full > 0) {
                c.o0 = o0;
                c.o1 = o1;
                mcf_conv2d_s8_mve_gemm(&c);
            }
            if (tail > 0) {
                /* the partial group through a staging buffer: a 4-byte store would spill into
                 * the next pixel's channels */
                int8_t t[8];
                c.o0 = t;
                c.o1 = t + 4;
                c.w = wt + (size_t)full * 4 * kpad;
                c.q = c.q_end;
                c.q_end = c.q + qstride;
                mcf_conv2d_s8_mve_gemm(&c);
                c.w = wt;
                c.q_end = c.q;
                c.q = qt;
                for (int32_t i = 0; i < tail; ++i) {
                    o0[4 * full + i] = t[i];
                    o1[4 * full + i] = t[4 + i];
                }
            }
            oy = oy1;
            ox = ox1 + 1;
            if (ox == out_w) {
                ox = 0;
                ++oy;
            }
        }
    }
}

void mcf_conv2d_s8_mve(const mcf_conv2d_s8_args *a, const int8_t *in, int8_t *out)
{
    mcf_conv2d_s8_mve_block(a, in, out, a->win.out_c);
}
