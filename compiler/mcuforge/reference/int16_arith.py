"""Integer arithmetic of TFLite's 16x8 scheme (int16 activations, int8 weights, int64 bias).

Every function is the exact rule that runtime_c/include/mcf_arith_s16.h implements in C and that
TFLite's reference kernels use (facts read from tensorflow/lite/kernels/internal/common.h,
reference/integer_ops/{conv,fully_connected,logistic,tanh}.h and reference/softmax.h):
- the int64 MultiplyByQuantizedMultiplier: the Q31 multiplier is first rounded to Q15
  (reduced_multiplier), then one rounding right shift of the 64-bit product (ties toward +inf);
- LOGISTIC / TANH: a fixed 256-entry table of sigmoid(i / 24) in 0.16 format with linear
  interpolation (tanh(x) = 2 sigmoid(2x) - 1 reuses it);
- SOFTMAX: two 513-entry int16 tables (exp on [-10, 0], 1 / (1 + x) on [0, 1]) generated in
  float32 at prepare time, looked up with 7 fractional bits of interpolation.
Values are carried in numpy int64."""
from __future__ import annotations

import math

import numpy as np

from .arith import round_half_away

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def reduced_multiplier(mult) -> np.ndarray:
    """The Q31 multiplier rounded to Q15, as the 64-bit requantization uses it."""
    m = np.asarray(mult, dtype=np.int64)
    return np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)


def multiply_by_quantized_multiplier_64(x, mult, shift) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplier(int64_t x, ...): (x * reduced + 2^(t-1)) >> t with
    t = 15 - shift; |x| < 2^47 (proved per layer by quant/range_check.py), so nothing overflows."""
    x = np.asarray(x, dtype=np.int64)
    total = 15 - np.asarray(shift, dtype=np.int64)
    return (x * reduced_multiplier(mult) + (np.int64(1) << (total - 1))) >> total


# -- LOGISTIC / TANH ----------------------------------------------------------------------------
# sigmoid(i / 24), i = 0..255, in 0.16 fixed point: the constant table TFLite's int16 LOGISTIC and
# TANH interpolate in (reference/integer_ops/logistic.h). It is not round(65536 * sigmoid(i / 24))
# everywhere (44 entries are one higher), so it is data here, checked against tflite-micro.
_SIGMOID_TABLE = (
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064, 42688,
    43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409,
    51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110,
    61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186,
    63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
    64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208,
    65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449,
    65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
    65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535,
)


def sigmoid_table_uint16() -> np.ndarray:
    return np.array(_SIGMOID_TABLE, dtype=np.int64)


def _checked_log2(scale: float) -> tuple[bool, int]:
    x = math.log2(scale)
    r = int(round_half_away(x))
    return abs(x - r) < 1e-3, r


def sigmoid_tanh_params(in_scale: float, out_scale: float, op: str) -> dict:
    """LogisticPrepare / TanhPrepare for int16 (zero points 0): input_multiplier, left_shift.

    Scales are the file's float32 values widened to double, as TFLite Micro does."""
    s = float(np.float32(in_scale))
    pot, log2 = _checked_log2(s)
    left_shift = 12 + log2
    pot = pot and (left_shift == 0 or (op == "tanh" and left_shift == 1))
    if pot:
        mult, left_shift = 3 << left_shift, 0   # the kernel's power-of-two case, resolved here
    else:
        m = s * 4096.0 * 3.0
        left_shift = 0
        while m <= 32767.0 / 2.0 and left_shift <= 30:
            left_shift += 1
            m *= 2.0
        mult = int(m)
    ok, out_log2 = _checked_log2(float(np.float32(out_scale)))
    if not ok or out_log2 != -15:
        raise ValueError(f"int16 {op} needs output scale 1/32768 (got {out_scale})")
    return {"mult": int(mult), "left_shift": int(left_shift)}


def sigmoid_int16(x, p) -> np.ndarray:
    table = sigmoid_table_uint16()
    rnd = (1 << (p["left_shift"] - 1)) if p["left_shift"] > 0 else 0
    v = (np.asarray(x, np.int64) * p["mult"] + rnd) >> p["left_shift"]
    a = np.abs(v)
    uh = a >> 9
    idx = np.minimum(uh, 254)
    ua, ub = table[idx], table[idx + 1]
    r = np.where(uh >= 255, 0x7FFF << 10, (ua << 9) + (a & 0x1FF) * (ub - ua))
    r = np.where(v >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1)
    return r >> 10


def tanh_int16(x, p) -> np.ndarray:
    table = sigmoid_table_uint16()
    rnd = (1 << (p["left_shift"] - 1)) if p["left_shift"] > 0 else 0
    v = (np.asarray(x, np.int64) * p["mult"] + rnd) >> p["left_shift"]
    a = np.abs(v)
    uh = a >> 8
    idx = np.minimum(uh, 254)
    ua, ub = table[idx], table[idx + 1]
    r = np.where(uh >= 255, 0xFFFF << 8, (ua << 8) + (a & 0xFF) * (ub - ua))
    r = np.where(v >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
    return r >> 8


# -- SOFTMAX ------------------------------------------------------------------------------------
def int16_lut(fn, lo: float, hi: float) -> np.ndarray:
    """TFLite's gen_lut<float, int16_t, int16_t> on output range [-1, 1]: 512 samples of fn with
    the midpoint error halved into each entry, plus fn(hi); all arithmetic in float32."""
    f32 = np.float32
    lo, hi = f32(lo), f32(hi)
    steps = 512
    step = (hi - lo) / f32(steps)
    half = step / f32(2)
    inv = f32(65536) / (f32(1) - f32(-1))

    def rnd(v):
        return f32(round_half_away(f32(v)))

    lut = np.zeros(steps + 1, np.int64)
    for i in range(steps):
        x0 = lo + f32(i) * step
        val, mid, nxt = f32(fn(x0)), f32(fn(x0 + half)), f32(fn(lo + f32(i + 1) * step))
        sample = rnd(val * inv)
        interp = rnd((nxt * inv + rnd(val * inv)) / f32(2))
        midv = rnd(mid * inv)
        bias = rnd((interp - midv) / f32(2))
        lut[i] = int(min(max(sample - bias, f32(INT16_MIN)), f32(INT16_MAX)))
    lut[steps] = int(min(max(rnd(f32(fn(hi)) * inv), f32(INT16_MIN)), f32(INT16_MAX)))
    return lut


def softmax_luts() -> tuple[np.ndarray, np.ndarray]:
    exp = int16_lut(lambda v: np.exp(np.float32(v), dtype=np.float32), -10.0, 0.0)
    recip = int16_lut(lambda v: np.float32(1) / (np.float32(1) + np.float32(v)), 0.0, 1.0)
    return exp, recip


def lut_lookup(v, lut) -> np.ndarray:
    """generic_int16_table_lookup: 9 bits pick the entry, 7 bits interpolate (rounded)."""
    v = np.asarray(v, np.int64)
    idx = 256 + (v >> 7)
    off = v & 0x7F
    base = lut[idx]
    slope = lut[idx + 1] - base
    return base + ((slope * off + 64) >> 7)


def softmax_int16(x, p) -> np.ndarray:
    """Softmax along the last axis of int16 values; output scale 1/32768, zero point 0."""
    from .arith import multiply_by_quantized_multiplier
    x = np.asarray(x, np.int64)
    diff = x - x.max(axis=-1, keepdims=True)
    scaled = multiply_by_quantized_multiplier(diff, p["mult"], p["shift"])
    e = lut_lookup(np.clip(scaled + 32767, INT16_MIN, INT16_MAX), p["exp_lut"])
    total = e.sum(axis=-1, keepdims=True)          # < 2^31: at most 65535 entries of <= 32767
    clz = np.array([32 - int(t).bit_length() for t in total.reshape(-1)], np.int64).reshape(total.shape)
    shifted = ((total << (clz - 1)) + (1 << 13)) >> 14
    recip = lut_lookup(np.clip(shifted - ((1 << 15) + (1 << 16)), INT16_MIN, INT16_MAX), p["recip_lut"])
    rshift = 31 - clz
    y = (e * recip + (np.int64(1) << (rshift - 1))) >> rshift
    return np.clip(y, 0, INT16_MAX)
