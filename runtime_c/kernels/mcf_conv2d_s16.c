/* 16x8 2-D convolution, any groups, reference version: int16 input (zero point 0), int8 weights,
 * int64 accumulation of x * w plus an int64 bias, then the 64-bit per-channel requantization
 * (TFLite's ConvPerChannel for int16). With an int32 bias TFLite accumulates in int32; the
 * compiler proved that sum never leaves int32, so the int64 sum here equals it. The loop is
 * mcf_conv_ref.inc's. */
#define MCF_CONV_FN mcf_conv2d_s16
#define MCF_CONV_S16
#include "mcf_conv_ref.inc"
