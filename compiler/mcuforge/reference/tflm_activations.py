"""TFLite Micro's own int8 algorithms for LOGISTIC, TANH, HARD_SWISH, RELU / RELU6, LEAKY_RELU,
PRELU, RSQRT and L2_NORMALIZATION, in numpy.

They differ from "dequantize, apply f, requantize": LOGISTIC rescales the input to a Q4.27 raw
value and runs gemmlowp's fixed-point logistic; HARD_SWISH works on int16 fixed-point values with
multipliers rounded to 16 bits. A model imported from .tflite must reproduce them bit for bit, and
since both are functions of one int8 value, the device runs them as 256-entry tables filled here.
"""
import math

import numpy as np

from .arith import (multiply_by_quantized_multiplier, quantize_multiplier, round_half_away,
                    rounding_divide_by_pot)
from .fixedpoint import input_radius, inv_sqrt_multiplier_exp, logistic_raw, tanh_raw

LOGISTIC_INPUT_INT_BITS = 4


# -- LOGISTIC ----------------------------------------------------------------------------------
def logistic_params(input_scale: float, input_zp: int) -> dict:
    """Prepare step: the input multiplier comes from frexp without QuantizeMultiplier's clamps."""
    real = float(input_scale) * float(1 << (31 - LOGISTIC_INPUT_INT_BITS))
    q, left_shift = math.frexp(real)
    mult = int(round_half_away(q * (1 << 31)))
    return {"zp": int(input_zp), "mult": mult, "shift": left_shift,
            "radius": input_radius(LOGISTIC_INPUT_INT_BITS, left_shift)}


tanh_params = logistic_params  # the same Q4.27 input rescaling (TFLM's CalculateArithmeticOpData)


def tanh_int8(x, p) -> np.ndarray:
    """Output scale 1/128, zero point 0 (TFLM's int8 TANH)."""
    d = np.asarray(x, np.int64) - p["zp"]
    q4 = multiply_by_quantized_multiplier(d, p["mult"], p["shift"])
    y = np.clip(rounding_divide_by_pot(tanh_raw(q4, LOGISTIC_INPUT_INT_BITS), 31 - 7), -128, 127)
    y = np.where(d <= -p["radius"], -128, np.where(d >= p["radius"], 127, y))
    return y.astype(np.int8)


def logistic_int8(x, p) -> np.ndarray:
    """Output scale 1/256, zero point -128; inputs beyond the radius saturate to -128 / 127."""
    d = np.asarray(x, np.int64) - p["zp"]
    q4 = multiply_by_quantized_multiplier(d, p["mult"], p["shift"])
    raw = logistic_raw(q4, LOGISTIC_INPUT_INT_BITS)           # 0 integer bits
    y = np.clip(rounding_divide_by_pot(raw, 31 - 8) - 128, -128, 127)
    y = np.where(d <= -p["radius"], -128, np.where(d >= p["radius"], 127, y))
    return y.astype(np.int8)


# -- HARD_SWISH (int16 fixed point) -------------------------------------------------------------
INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def _wrap16(x):
    x = np.asarray(x, np.int64)
    return ((x + (1 << 15)) & 0xFFFF) - (1 << 15)


def _srdhm16(a, b):
    """Saturating rounding doubling high multiply on int16 values (gemmlowp's int16 variant)."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    s = ab + nudge
    q = np.where(s >= 0, s >> 15, -((-s) >> 15))   # C division truncates toward zero
    return np.where((a == INT16_MIN) & (b == INT16_MIN), INT16_MAX, _wrap16(q))


def _sdhm16(a, b):
    """Doubling high multiply that truncates toward zero instead of rounding (SQDMULH)."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ab = a * b
    q = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.where((a == INT16_MIN) & (b == INT16_MIN), INT16_MAX, _wrap16(q))


def _sat_shl16(x, amount: int):
    return np.clip(np.asarray(x, np.int64) * (1 << amount), INT16_MIN, INT16_MAX)


def _downscale_to_int16(m32: int) -> int:
    if m32 >= (1 << 31) - 1 - (1 << 15):
        return INT16_MAX
    return (m32 + (1 << 15)) >> 16


def hardswish_params(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> dict:
    """Prepare step, in float32 as TFLM computes it."""
    f32 = np.float32
    hires = f32(1.0 / 128.0) * f32(in_scale)
    out_m, out_e = quantize_multiplier(float(hires / f32(out_scale)))
    relu_m, relu_e = quantize_multiplier(float(hires / (f32(3.0) / f32(32768.0))))
    if out_e > 0:
        raise ValueError("hard_swish: output scale too small for TFLM's int8 algorithm")
    return {"in_zp": int(in_zp), "out_zp": int(out_zp),
            "out_mult": _downscale_to_int16(out_m), "out_exp": out_e,
            "relu_mult": _downscale_to_int16(relu_m), "relu_exp": relu_e}


def hardswish_int8(x, p) -> np.ndarray:
    v = np.asarray(x, np.int64) - p["in_zp"]
    hires = _wrap16(v * 128)
    pre_out = _srdhm16(hires, p["out_mult"])
    r = hires
    if p["relu_exp"] > 0:
        r = _sat_shl16(r, p["relu_exp"] - 1)
    r = _srdhm16(r, p["relu_mult"])
    if p["relu_exp"] > 0:
        r = _sat_shl16(r, 1)
    elif p["relu_exp"] < 0:
        r = rounding_divide_by_pot(r, -p["relu_exp"])
    r = (r + (1 << 15)) >> 1                                   # [-1, 1] -> [0, 1]
    # the zero point is added in int16, so it wraps like the C code would
    y = _wrap16(rounding_divide_by_pot(_sdhm16(r, pre_out), -p["out_exp"]) + p["out_zp"])
    return np.clip(y, -128, 127).astype(np.int8)


# -- RELU / RELU6 / LEAKY_RELU / PRELU -----------------------------------------------------------
def relu_params(in_scale, in_zp, out_scale, out_zp, lo: float, hi: float | None) -> dict:
    """RELU (and RELU_N1_TO_1): requantize with the Q31 multiplier s_in / s_out, then clamp to
    the bounds rounded in float32 in the output grid."""
    f32 = np.float32
    m, s = quantize_multiplier(float(in_scale) / float(out_scale))
    qmin = max(-128, int(out_zp) + int(round_half_away(f32(lo) / f32(out_scale))))
    qmax = 127 if hi is None else min(127, int(out_zp) + int(round_half_away(f32(hi) / f32(out_scale))))
    return {"in_zp": int(in_zp), "out_zp": int(out_zp), "mult": m, "shift": s, "qmin": qmin, "qmax": qmax}


def relu_int8(x, p) -> np.ndarray:
    y = multiply_by_quantized_multiplier(np.asarray(x, np.int64) - p["in_zp"], p["mult"], p["shift"])
    return np.clip(y + p["out_zp"], p["qmin"], p["qmax"]).astype(np.int8)


def relu6_params(in_scale, in_zp) -> dict:
    """RELU6 clamps the raw int8 input between its zero and six (TFLM ignores the output grid)."""
    six = int(round_half_away(np.float32(6.0) / np.float32(in_scale))) + int(in_zp)
    return {"zero": int(in_zp), "six": int(np.clip(six, -128, 127))}


def relu6_int8(x, p) -> np.ndarray:
    return np.clip(np.asarray(x, np.int64), p["zero"], p["six"]).astype(np.int8)


def leaky_relu_params(in_scale, in_zp, out_scale, out_zp, alpha: float) -> dict:
    ma, sa = quantize_multiplier(float(in_scale) * float(np.float32(alpha)) / float(out_scale))
    mi, si = quantize_multiplier(float(in_scale) / float(out_scale))
    return {"in_zp": int(in_zp), "out_zp": int(out_zp), "mult_alpha": ma, "shift_alpha": sa,
            "mult_id": mi, "shift_id": si}


def leaky_relu_int8(x, p) -> np.ndarray:
    v = np.asarray(x, np.int64) - p["in_zp"]
    pos = multiply_by_quantized_multiplier(v, p["mult_id"], p["shift_id"])
    neg = multiply_by_quantized_multiplier(v, p["mult_alpha"], p["shift_alpha"])
    return np.clip(np.where(v >= 0, pos, neg) + p["out_zp"], -128, 127).astype(np.int8)


def prelu_params(in_scale, in_zp, alpha_scale, alpha_zp, out_scale, out_zp) -> dict:
    m1, s1 = quantize_multiplier(float(in_scale) / float(out_scale))
    m2, s2 = quantize_multiplier(float(in_scale) * float(alpha_scale) / float(out_scale))
    return {"in_zp": int(in_zp), "alpha_zp": int(alpha_zp), "out_zp": int(out_zp),
            "mult_pos": m1, "shift_pos": s1, "mult_neg": m2, "shift_neg": s2}


def prelu_int8(x, alpha, p) -> np.ndarray:
    """x >= zero point: x requantized; below: (x - zp) * (alpha - alpha_zp) requantized."""
    v = np.asarray(x, np.int64) - p["in_zp"]
    a = np.asarray(alpha, np.int64) - p["alpha_zp"]
    pos = multiply_by_quantized_multiplier(v, p["mult_pos"], p["shift_pos"])
    neg = multiply_by_quantized_multiplier(v * a, p["mult_neg"], p["shift_neg"])
    return np.clip(np.where(v >= 0, pos, neg) + p["out_zp"], -128, 127).astype(np.int8)


# -- RSQRT / L2_NORMALIZATION (integer inverse square root) ---------------------------------------
RSQRT_SHIFT = 20


def rsqrt_params(in_scale, in_zp, out_scale, out_zp) -> dict:
    """The output multiplier 1 / (sqrt(s_in) * s_out), the product formed in float32 as TFLM does."""
    f32 = np.float32
    m, s = quantize_multiplier(1.0 / float(f32(np.sqrt(f32(in_scale))) * f32(out_scale)))
    return {"in_zp": int(in_zp), "out_zp": int(out_zp), "mult": m, "shift": s}


def rsqrt_int8(x, p) -> np.ndarray:
    """0 maps to 127; TFLM rejects negative inputs at run time, here they take the value-1 path."""
    out = []
    for v in (np.asarray(x, np.int64) - p["in_zp"]).reshape(-1):
        if v == 0:
            out.append(127)
            continue
        m, s = inv_sqrt_multiplier_exp(v)
        data = multiply_by_quantized_multiplier(1, m, s + RSQRT_SHIFT)
        y = multiply_by_quantized_multiplier(data, p["mult"], p["shift"] - RSQRT_SHIFT) + p["out_zp"]
        out.append(int(np.clip(y, -128, 127)))
    return np.array(out, np.int8).reshape(np.shape(x))


def l2norm_int8(x, in_zp: int) -> np.ndarray:
    """Each row (last axis) times 1 / sqrt(sum of squares), output scale 1/128, zero point 0."""
    v = np.asarray(x, np.int64) - in_zp
    rows = v.reshape(-1, v.shape[-1])
    out = np.empty_like(rows)
    for i, r in enumerate(rows):
        m, s = inv_sqrt_multiplier_exp(int((r * r).sum()))
        out[i] = np.clip(multiply_by_quantized_multiplier(r, m, s + 7), -128, 127)
    return out.reshape(v.shape).astype(np.int8)
