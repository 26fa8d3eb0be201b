"""Q-format fixed-point functions of TFLite's int8 softmax and logistic (gemmlowp's algorithms),
in numpy on raw int32 values. A raw value with I integer bits means raw / 2**(31 - I).

The C side (runtime_c/include/mcf_fixedpoint.h) implements the same steps; the constants below are
derived from their real values here rather than typed in.
"""
import math

import numpy as np

from .arith import (INT32_MAX, INT32_MIN, quantize_multiplier, rounding_divide_by_pot,
                    saturating_rounding_doubling_high_mul as mul, saturating_rounding_multiply_by_pot,
                    wrap_int32)


def q31(real: float, integer_bits: int = 0) -> int:
    return int(round(real * (1 << (31 - integer_bits))))


EXP_MINUS_EIGHTH = q31(math.exp(-1 / 8))
ONE_THIRD = q31(1 / 3)
# exp(-2**k) for the barrel shifter over the integer part of the argument, k = -2 .. 4
EXP_BARREL = [(k, q31(math.exp(-2.0 ** k))) for k in range(-2, 5)]
N48_OVER_17 = q31(48 / 17, 2)
NEG32_OVER_17 = q31(-32 / 17, 2)


def rescale(raw, src_bits: int, dst_bits: int):
    return saturating_rounding_multiply_by_pot(raw, src_bits - dst_bits)


def exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """exp(a) for a in [-1/4, 0), a and result with 0 integer bits: Taylor series around -1/8."""
    x = wrap_int32(a + (1 << 28))
    x2 = mul(x, x)
    x3 = mul(x2, x)
    x4 = mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(wrap_int32(mul(wrap_int32(x4_over_4 + x3), ONE_THIRD) + x2), 1)
    return wrap_int32(EXP_MINUS_EIGHTH + mul(EXP_MINUS_EIGHTH, wrap_int32(x + poly)))


def exp_on_negative_values(a, integer_bits: int):
    """exp(a) for a <= 0 given with `integer_bits` integer bits; result with 0 integer bits."""
    a = np.asarray(a, np.int64)
    frac_bits = 31 - integer_bits
    quarter = 1 << (frac_bits - 2)
    a_mod_quarter_minus_quarter = wrap_int32((a & (quarter - 1)) - quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_quarter, integer_bits, 0))
    remainder = wrap_int32(a_mod_quarter_minus_quarter - a)
    for k, multiplier in EXP_BARREL:
        if integer_bits > k:
            bit = (remainder >> (frac_bits + k)) & 1
            result = np.where(bit != 0, mul(result, multiplier), result)
    if integer_bits > 5:  # below -32 the result underflows to zero
        result = np.where(a < -(32 << frac_bits), 0, result)
    return np.where(a == 0, INT32_MAX, result)


def rounding_half_sum(a, b):
    s = np.asarray(a, np.int64) + np.asarray(b, np.int64)
    sign = np.where(s >= 0, 1, -1)
    t = s + sign
    return np.where(t >= 0, t // 2, -((-t) // 2))


def _two_over_one_plus_x(a):
    """2 / (1 + a) for a in [0, 1) with 2 integer bits: three Newton-Raphson steps on the half
    denominator (gemmlowp's 48/17 - 32/17 x start)."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    x = wrap_int32(N48_OVER_17 + mul(half_denominator, NEG32_OVER_17))
    one_f2 = 1 << 29
    for _ in range(3):
        half_denominator_times_x = mul(half_denominator, x)
        one_minus = wrap_int32(one_f2 - half_denominator_times_x)
        x = wrap_int32(x + rescale(mul(x, one_minus), 4, 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a):
    """1 / (1 + a) for a in [0, 1) (0 integer bits in and out)."""
    # x has 2 integer bits; halving it is a reinterpretation with 1 integer bit, then rescale to 0.
    return rescale(_two_over_one_plus_x(a), 1, 0)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a):
    """(1 - a) / (1 + a) for a in [0, 1) (0 integer bits in and out): 2 / (1 + a) - 1."""
    return rescale(wrap_int32(_two_over_one_plus_x(a) - (1 << 29)), 2, 0)


def count_leading_zeros32(x):
    x = np.asarray(x, np.int64) & 0xFFFFFFFF
    out = np.full(x.shape, 32, np.int64)
    nz = x != 0
    out[nz] = 31 - np.floor(np.log2(x[nz].astype(np.float64))).astype(np.int64)
    # guard against float rounding of log2 near powers of two
    out[nz] = np.where((x[nz] >> (31 - out[nz])) == 0, out[nz] + 1, out[nz])
    out[nz] = np.where((x[nz] >> (32 - out[nz])) != 0, out[nz] - 1, out[nz])
    return out


# -- softmax ---------------------------------------------------------------------------------
SOFTMAX_DIFF_INT_BITS = 5
SOFTMAX_ACC_INT_BITS = 12


def input_radius(integer_bits: int, left_shift: int, total_bits: int = 31) -> int:
    """Largest |input| (in input units) that does not saturate after the left shift."""
    return int(math.floor(((1 << integer_bits) - 1) * (1 << (total_bits - integer_bits)) / (1 << left_shift)))


def softmax_input_scaling(beta: float, input_scale: float) -> tuple[int, int, int]:
    real = min(beta * input_scale * (1 << (31 - SOFTMAX_DIFF_INT_BITS)), float((1 << 31) - 1))
    mult, shift = quantize_multiplier(real)
    if shift < 0:
        raise ValueError(f"softmax input scale {input_scale} too small")
    return mult, shift, -input_radius(SOFTMAX_DIFF_INT_BITS, shift)


def softmax_exp_table(mult: int, left_shift: int, diff_min: int) -> np.ndarray:
    """exp of the rescaled difference for differences 0, -1, ..., -255 (0 where below diff_min)."""
    diff = -np.arange(256, dtype=np.int64)
    rescaled = mul(wrap_int32(diff << left_shift), mult)
    e = exp_on_negative_values(rescaled, SOFTMAX_DIFF_INT_BITS)
    return np.where(diff >= diff_min, e, 0).astype(np.int64)


def softmax_int8(x, exp_table):
    """Softmax over the last axis of int8 values; exp_table from softmax_exp_table."""
    x = np.asarray(x, np.int64)
    diff = x.max(axis=-1, keepdims=True) - x
    e = exp_table[diff]
    total = wrap_int32(rescale(e, 0, SOFTMAX_ACC_INT_BITS).sum(axis=-1, keepdims=True))
    headroom_plus_one = count_leading_zeros32(total)
    bits_over_unit = SOFTMAX_ACC_INT_BITS - headroom_plus_one
    shifted_minus_one = wrap_int32(((total << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    scale = one_over_one_plus_x_for_x_in_0_1(shifted_minus_one)
    y = rounding_divide_by_pot(mul(scale, e), bits_over_unit + 31 - 8) - 128
    return np.clip(y, -128, 127)


# -- logistic (TFLite int8: input with 4 integer bits, output 1/256 scale, zero point -128) -------
def logistic_raw(a, integer_bits: int):
    """logistic(a) with 0 integer bits out."""
    a = np.asarray(a, np.int64)
    abs_a = np.where(a > 0, a, wrap_int32(-a))
    pos = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(wrap_int32(-abs_a), integer_bits))
    neg = wrap_int32(INT32_MAX - pos)
    return np.where(a == 0, 1 << 30, np.where(a > 0, pos, neg))


# -- tanh (gemmlowp: tanh(x) = (1 - exp(-2|x|)) / (1 + exp(-2|x|)), sign restored) ----------------
def tanh_raw(a, integer_bits: int):
    """tanh(a) with 0 integer bits out; a has `integer_bits` integer bits."""
    a = np.asarray(a, np.int64)
    n = np.where(a < 0, a, wrap_int32(-a))          # -|a|
    # -2|a| is the same raw value read with one more integer bit
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(a < 0, wrap_int32(-t), t))


# -- inverse square root (TFLite's GetInvSqrtQuantizedMultiplierExp, reverse shift -1) ----------
HALF_SQRT_2 = 1518500250  # sqrt(2) / 2 with 0 integer bits


def inv_sqrt_multiplier_exp(value: int) -> tuple[int, int]:
    """1 / sqrt(value) of a non-negative int32 as (Q31 multiplier, shift) for
    multiply_by_quantized_multiplier: five Newton-Raphson steps in Q3.28 from x = 1."""
    def srdhm(a, b):
        return int(mul(a, b))

    value = int(value)
    if value <= 1:
        return INT32_MAX, 0
    shift = 11
    while value >= (1 << 29):
        value //= 4
        shift += 1
    max_left_shift_bits = (32 - value.bit_length()) - 1
    pairs = max_left_shift_bits // 2 - 1
    shift -= pairs
    value <<= 2 * pairs
    half_input = int(rounding_divide_by_pot(value >> 1, 1))
    half_three = (1 << 28) + (1 << 27)
    x = 1 << 28
    for _ in range(5):
        x3 = int(saturating_rounding_multiply_by_pot(srdhm(srdhm(x, x), x), 6))
        x = int(saturating_rounding_multiply_by_pot(int(wrap_int32(srdhm(half_three, x) - srdhm(half_input, x3))), 3))
    x = srdhm(x, HALF_SQRT_2)
    if shift < 0:
        x = int(wrap_int32(x << -shift))
        shift = 0
    return x, -shift
