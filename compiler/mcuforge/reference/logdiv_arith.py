"""Integer rules of three ops that issue 9 left refused: int8 LOG_SOFTMAX and int8 DIV as TFLite
Micro computes them, and an int16 HARD_SWISH of our own (no TFLite runtime runs one).

Facts read from tflite-micro (micro/kernels/log_softmax.cc, div.cc, kernels/internal/reference/
log_softmax.h, div.h, common.h and quantization_util.cc) and written again here; runtime_c/kernels/
mcf_log_softmax_s8.c, mcf_div_s8.c and mcf_hardswish_s16.c do the same steps in C.

- LOG_SOFTMAX int8 (output scale 16/256, zero point 127): the differences from the row maximum are
  rescaled to Q5.26 (beta 1), their exponentials (gemmlowp's exp_on_negative_values) summed in
  Q12.19, the log of the sum taken by gemmlowp-style log_x_for_x_greater_than_or_equal_to_1
  (a rational approximation around 2^0.25 plus the exponent times log 2, in Q5.26), and
  y = RoundingDivideByPOT(diff_q5 - log_sum, 22) + 127, with values below the reachable range
  set to -128.
- DIV int8: x1 / x2 through a fixed-point reciprocal of x2 (gemmlowp's 1 / (1 + x) by three
  Newton-Raphson steps on the normalized divisor), the numerator normalized by its redundant sign
  bits, one SaturatingRoundingDoublingHighMul, then the Q31 output multiplier s1 / (s2 * s_out)
  and a rounding shift. Where TFLite Micro's arithmetic is undefined we define it: a zero
  divisor (x2 == zp2) gives act_max for x1 > zp1, act_min for x1 < zp1 and the output zero point
  (clamped) for 0 / 0; a final shift of 32 bits or more (tiny numerators, x1 == zp1 among them:
  C's int32 shift by >= 32) is the rounded quotient computed in 64 bits, i.e. the exact value
  (tflite-micro's x86 build returns zp + 1 for 0 / x there).
- HARD_SWISH int16 (zero points 0): r = clamp(x * s_in / 6 + 1/2, 0, 1) in Q30 (one rounding),
  p = x * r rounded to Q16, y = p * s_in / s_out with one Q31 multiplier and one rounding
  (ties up), clamped to int16. |r error| <= 2^-31, so y is within 1 LSB of the exactly rounded
  x * relu6(x + 3) / 6 / s_out for every input (tests/test_logdiv_ops.py checks all 65536).
"""
from __future__ import annotations

import math

import numpy as np

from .arith import (INT32_MAX, INT32_MIN, quantize_multiplier, rounding_divide_by_pot,
                    saturating_rounding_doubling_high_mul as mul, wrap_int32)
from .fixedpoint import (count_leading_zeros32, exp_on_negative_values, input_radius,
                         one_over_one_plus_x_for_x_in_0_1, q31, rounding_half_sum)

# -- LOG_SOFTMAX ------------------------------------------------------------------------------------
LOG_SOFTMAX_OUT = (16.0 / 256.0, 127)   # TFLite's fixed int8 output grid
DIFF_BITS, ACC_BITS, OUT_BITS = 5, 12, 4
LOG_ACC_BITS = DIFF_BITS + 1            # the log's accumulator: one bit of headroom
MAX_AXIS = (1 << ACC_BITS) - 1          # the Q12 sum of exponentials stays below 2^12

LOG_2 = q31(math.log(2.0))
SQRT_SQRT_HALF = q31(math.sqrt(math.sqrt(0.5)))
SQRT_HALF = q31(math.sqrt(0.5))
ONE_QUARTER = q31(0.25)
ALPHA_N = q31(11.0 / 240.0 * math.sqrt(math.sqrt(2.0)))
ALPHA_D = q31(1.0 / 20.0 * math.sqrt(math.sqrt(2.0)))
ALPHA_I = q31(2.0 / math.sqrt(math.sqrt(2.0)) - math.sqrt(math.sqrt(2.0)))
ALPHA_F = q31(0.25 * math.sqrt(math.sqrt(2.0)))


def _sat_shl(x, exponent):
    """x * 2^exponent, exponent >= 0 (scalar or array), saturating to int32."""
    x = np.asarray(x, np.int64)
    e = np.asarray(exponent, np.int64)
    threshold = (np.int64(1) << (31 - e)) - 1
    shifted = wrap_int32(x << e)
    out = np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, shifted))
    return np.where(e == 0, x, out)


def _sat_add(a, b):
    return np.clip(np.asarray(a, np.int64) + np.asarray(b, np.int64), INT32_MIN, INT32_MAX)


def log_q5_of_q12(x):
    """log(x) for a Q12.19 value x >= 1, as a Q5.26 raw value."""
    x = np.asarray(x, np.int64)
    quarter = rounding_divide_by_pot(ONE_QUARTER, LOG_ACC_BITS)
    hp1 = count_leading_zeros32(x)
    r_a = _sat_shl(mul(_sat_shl(x, hp1 - 1), SQRT_HALF), 1)
    z_a = _sat_add(_sat_shl(ACC_BITS - hp1, 31 - LOG_ACC_BITS), quarter)
    hb = count_leading_zeros32(mul(x, SQRT_HALF)) - 1
    r_b = _sat_shl(x, hb)
    z_b = _sat_add(_sat_shl(ACC_BITS - hb, 31 - LOG_ACC_BITS), -quarter)
    r = np.minimum(r_a, r_b)
    z = np.maximum(z_a, z_b)
    p = rounding_half_sum(r, SQRT_SQRT_HALF)
    q = wrap_int32(r - SQRT_SQRT_HALF)
    q = wrap_int32(q + q)
    sq = mul(q, q)
    num = wrap_int32(mul(q, r) + mul(mul(q, sq), ALPHA_N))
    den = wrap_int32(mul(p, wrap_int32(wrap_int32(ALPHA_I + q) + mul(ALPHA_D, sq))) + mul(ALPHA_F, q))
    recip = one_over_one_plus_x_for_x_in_0_1(den)
    num_scaled = rounding_divide_by_pot(num, LOG_ACC_BITS)
    return _sat_shl(wrap_int32(mul(z, LOG_2) + mul(num_scaled, recip)), 1)


def log_softmax_params(in_scale: float, axis_len: int) -> dict:
    """PreprocessLogSoftmaxScalingExp (beta 1) and the two 256-entry tables indexed by
    max - x: the difference in Q5.26 and its exponential in Q12.19 (0 below diff_min)."""
    if axis_len > MAX_AXIS:
        raise ValueError(f"int8 log-softmax over {axis_len} values (at most {MAX_AXIS}: the Q12 sum of "
                         "exponentials would overflow)")
    real = min(float(np.float32(in_scale)) * (1 << (31 - DIFF_BITS)), float((1 << 31) - 1))
    mult, left_shift = quantize_multiplier(real)
    if left_shift < 0:
        raise ValueError(f"int8 log-softmax input scale {in_scale} is too small")
    rev_mult, rev_shift = quantize_multiplier((1 << (31 - left_shift)) / float(mult))
    if rev_shift > 0:
        raise ValueError(f"int8 log-softmax input scale {in_scale}: reverse scaling above one")
    diff_min = -input_radius(DIFF_BITS, left_shift)
    diff = -np.arange(256, dtype=np.int64)
    rescaled = mul(wrap_int32(diff << left_shift), mult)
    e = rounding_divide_by_pot(exp_on_negative_values(rescaled, DIFF_BITS), ACC_BITS)
    return {"diff_q5": rescaled.astype(np.int64), "exp_q12": np.where(diff >= diff_min, e, 0).astype(np.int64),
            "diff_min": int(diff_min), "rev_mult": int(rev_mult), "rev_shift": int(rev_shift)}


def log_softmax_int8(x, p) -> np.ndarray:
    """Over the last axis of int8 values."""
    x = np.asarray(x, np.int64)
    d = x.max(axis=-1, keepdims=True) - x                     # 0 .. 255, the table index
    total = wrap_int32(p["exp_q12"][d].sum(axis=-1, keepdims=True))
    log_sum = log_q5_of_q12(total)
    floor = rounding_divide_by_pot(mul(wrap_int32(log_sum + INT32_MIN), p["rev_mult"]), -p["rev_shift"])
    adjusted_min = np.maximum(p["diff_min"] - 1, floor)
    dq5 = p["diff_q5"][d]
    y = rounding_divide_by_pot(wrap_int32(dq5 - log_sum), 31 - DIFF_BITS - OUT_BITS) + 127
    return np.where(-d > adjusted_min, np.clip(y, -128, 127), -128).astype(np.int8)


# -- DIV ---------------------------------------------------------------------------------------------
DIV_MAX_SHIFT = 40
def count_leading_sign_bits32(x):
    x = np.asarray(x, np.int64)
    return np.where(x >= 0, count_leading_zeros32(x) - 1, count_leading_zeros32(~x & 0xFFFFFFFF) - 1)


def div_params(s1: float, s2: float, so: float) -> dict:
    f32 = np.float32   # the file's float32 scales, divided in double (what tflite-micro computes)
    real = float(f32(s1)) / (float(f32(s2)) * float(f32(so)))
    mult, shift = quantize_multiplier(real)
    if shift > 22:
        # total_shift = shift - recip_shift - headroom must stay <= 0 (headroom >= 22 for |x1| <= 256)
        raise ValueError(f"int8 div: output multiplier {real:g} too large")
    return {"out_mult": int(mult), "out_shift": int(shift)}


def divisor_reciprocals() -> np.ndarray:
    """GetReciprocal's Q31 mantissa of every divisor magnitude 0 .. 255 (|x2 - zp2| <= 255; entry 0
    unused): a compile-time table, so the device skips the Newton-Raphson steps per element."""
    b = np.arange(256, dtype=np.int64)
    bb = np.maximum(b, 1)
    hp1 = count_leading_zeros32(bb)
    inv = one_over_one_plus_x_for_x_in_0_1(wrap_int32(((bb << hp1) & 0xFFFFFFFF) - (1 << 31)))
    return np.where(b == 0, 0, inv).astype(np.int64)


def div_int8(x1, x2, p) -> np.ndarray:
    """Broadcast x1 / x2 of int8 values (zero points in p), clamped to p's activation range."""
    a = np.asarray(x1, np.int64) - p["in1_zp"]
    b = np.asarray(x2, np.int64) - p["in2_zp"]
    a, b = np.broadcast_arrays(a, b)
    neg = b < 0
    a, b = np.where(neg, -a, a), np.where(neg, -b, b)
    recip_shift = 31 - count_leading_zeros32(np.where(b == 0, 1, b))
    inv = divisor_reciprocals()[b]
    headroom = count_leading_sign_bits32(a)
    unscaled = mul(wrap_int32(a << headroom), inv)
    total = p["out_shift"] - recip_shift - headroom
    # |mul(...)| < 2^31: any right shift beyond 40 bits rounds to 0 as 40 does (int64 shifts stay defined)
    y = rounding_divide_by_pot(mul(unscaled, p["out_mult"]), np.minimum(-total, DIV_MAX_SHIFT)) + p["out_zp"]
    zero_div = np.where(a > 0, p["act_max"], np.where(a < 0, p["act_min"], p["out_zp"]))
    y = np.where(b == 0, zero_div, y)
    return np.clip(y, p["act_min"], p["act_max"]).astype(np.int8)


# -- HARD_SWISH int16 ----------------------------------------------------------------------------------
R_BITS = 30      # fractional bits of the relu6(x + 3) / 6 factor
P_BITS = 16      # fractional bits of x * r kept before the output multiplier


def hardswish_s16_params(in_scale: float, out_scale: float) -> dict:
    m_r, e_r = quantize_multiplier(float(in_scale) / 6.0)
    k = 31 - R_BITS - e_r                      # x * m_r * 2^(e_r - 31) in Q30: a right shift by k
    m_o, e_o = quantize_multiplier(float(in_scale) / float(out_scale))
    n = 31 + P_BITS - e_o
    if not 1 <= k <= 46 or not 1 <= n <= 62:
        raise ValueError(f"int16 hard_swish: scales {in_scale:g} -> {out_scale:g} out of range")
    return {"r_mult": int(m_r), "r_shift": int(k), "out_mult": int(m_o), "out_shift": int(n)}


def hardswish_int16(x, p) -> np.ndarray:
    x = np.asarray(x, np.int64)
    one = np.int64(1) << R_BITS
    r_lin = (x * p["r_mult"] + (np.int64(1) << (p["r_shift"] - 1))) >> p["r_shift"]
    r = np.clip(r_lin + (one >> 1), 0, one)
    prod = x * r                                                        # |.| <= 2^45
    q16 = (prod + (np.int64(1) << (R_BITS - P_BITS - 1))) >> (R_BITS - P_BITS)  # |.| <= 2^31
    y = (q16 * p["out_mult"] + (np.int64(1) << (p["out_shift"] - 1))) >> p["out_shift"]
    return np.clip(y, -32768, 32767).astype(np.int16)
