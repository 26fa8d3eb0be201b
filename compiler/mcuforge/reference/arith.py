"""Integer arithmetic of the int8 contract (TFLite quantization spec), vectorized in numpy.

Every function here is the exact integer rule that runtime_c/include/mcf_arith.h implements in C;
the two must agree bit for bit. Values are carried in int64 so that intermediate products never
overflow in numpy, and results are cast back to the C type where C would be in that type.
"""
import math
from contextlib import contextmanager

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Represent a positive real multiplier as (Q31 mantissa, power-of-two exponent).

    real ~= mantissa * 2**(exponent - 31), mantissa in [2**30, 2**31). Mantissa rounding is
    half away from zero, as std::round does in TFLite's QuantizeMultiplier.
    """
    if real == 0.0:
        return 0, 0
    if real < 0:
        raise ValueError(f"negative multiplier {real}")
    q, shift = math.frexp(real)
    q_fixed = int(math.floor(q * (1 << 31) + 0.5))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return INT32_MAX, 30
    return q_fixed, shift


def _i64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def wrap_int32(x) -> np.ndarray:
    """Two's complement wrap into int32, as C's unsigned arithmetic cast back does."""
    x = _i64(x)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """(a * b * 2) >> 32 with rounding to nearest; the one overflow case saturates."""
    a, b = _i64(a), _i64(b)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    s = ab + nudge
    # C's division truncates toward zero.
    high = np.where(s >= 0, s >> 31, -((-s) >> 31))
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, INT32_MAX, high)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """x / 2**exponent rounded to nearest, ties away from zero."""
    x, exponent = _i64(x), _i64(exponent)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


# Requantization rounding of the graph being compiled or run: "double" (TFLite's: a rounding
# doubling high multiply, then a rounding divide) or "single" (one rounding of the exact product,
# ties up: the `requant="single"` compile option for models quantized from ONNX, which matches
# onnxruntime's float requantization far more often; docs/int16.md). Set by `rounding()`.
_ROUNDING = {"mode": "double"}
ROUNDING_MODES = ("double", "single")


@contextmanager
def rounding(mode: str | None):
    """Run the golden model (or compile-time tables) under a requantization rounding mode."""
    if mode not in (None,) + ROUNDING_MODES:
        raise ValueError(f"unknown requantization rounding {mode!r}")
    old = _ROUNDING["mode"]
    _ROUNDING["mode"] = mode or "double"
    try:
        yield
    finally:
        _ROUNDING["mode"] = old


def rounding_mode() -> str:
    """The requantization rounding in effect ("double" unless inside `rounding("single")`)."""
    return _ROUNDING["mode"]


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplier: x * multiplier * 2**(shift - 31), rounded.

    The left shift happens in int32 (wrapping, as the C code does with an unsigned shift). In the
    "single" rounding mode: floor(x * multiplier / 2**(31 - shift) + 1/2), exact in int64
    (|x << left| < 2^31, multiplier < 2^31).
    """
    x, multiplier, shift = _i64(x), _i64(multiplier), _i64(shift)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    if _ROUNDING["mode"] == "single":
        n = 31 + right
        return (wrap_int32(x << left) * multiplier + (np.int64(1) << (n - 1))) >> n
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(wrap_int32(x << left), multiplier), right)


def saturating_rounding_multiply_by_pot(x, exponent: int) -> np.ndarray:
    """gemmlowp's SaturatingRoundingMultiplyByPOT for int32 raw values."""
    x = _i64(x)
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX,
                    np.where(x < -threshold, INT32_MIN, wrap_int32(x << exponent)))


def saturate(x, lo: int, hi: int) -> np.ndarray:
    return np.clip(_i64(x), lo, hi)


def round_half_away(x) -> np.ndarray:
    """TfLiteRound / std::round: halves go away from zero."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def round_requant(x) -> np.ndarray:
    """Rounding of a real value to the output grid in compile-time tables: TFLite's half away from
    zero, or with requant="single" (models quantized from ONNX) onnxruntime's half to even."""
    if _ROUNDING["mode"] == "single":
        return np.rint(np.asarray(x, dtype=np.float64))
    return round_half_away(x)
