"""Integer rules of the `fixed` contract: a value is a raw two's-complement integer r of W bits
meaning r * 2**-F, exactly what ap_fixed<W, W-F, Q, O> holds.

A change of binary point is a shift; dropped bits follow the rounding mode (``trn`` floors like
AP_TRN, ``rnd`` adds half an LSB then floors like AP_RND, i.e. ties go up, ``rne`` rounds ties to
even like AP_RND_CONV and QONNX's ROUND), and a value outside the
W-bit range follows the overflow mode (``sat`` clamps like AP_SAT, ``wrap`` keeps the low W bits
like AP_WRAP). The HLS layer library, our ap_types header and the Verilog requantizer implement the
same two steps in the same order: shift-with-rounding, then overflow.

Raw values live in numpy int64. Every caller keeps its operands within 63 bits plus sign (the
compiler refuses wider accumulators), so int64 arithmetic here never overflows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_WIDTH = 64  # ap_fixed widths the backends (and int64 raw values) support
ROUNDING = ("trn", "rnd", "rne")
OVERFLOW = ("wrap", "sat")


@dataclass(frozen=True)
class FixedType:
    width: int
    frac: int  # fractional bits F; integer bits (sign included) are width - frac
    rounding: str = "rnd"
    overflow: str = "sat"

    def __post_init__(self):
        if not 1 <= self.width <= MAX_WIDTH:
            raise ValueError(f"fixed-point width {self.width} outside 1..{MAX_WIDTH}")
        if self.rounding not in ROUNDING or self.overflow not in OVERFLOW:
            raise ValueError(f"fixed-point modes must be {ROUNDING} and {OVERFLOW}")

    @property
    def int_bits(self) -> int:
        return self.width - self.frac

    @property
    def raw_min(self) -> int:
        return -(1 << (self.width - 1))

    @property
    def raw_max(self) -> int:
        return (1 << (self.width - 1)) - 1

    def to_dict(self) -> dict:
        return {"width": self.width, "frac": self.frac, "rounding": self.rounding, "overflow": self.overflow}

    @classmethod
    def from_dict(cls, d: dict) -> "FixedType":
        return cls(int(d["width"]), int(d["frac"]), d["rounding"], d["overflow"])

    def __str__(self):
        return f"fixed<{self.width},{self.int_bits},{self.rounding},{self.overflow}>"


def shift_round(raw, from_frac: int, to_frac: int, rounding: str) -> np.ndarray:
    """Move the binary point from `from_frac` to `to_frac` fractional bits (exact when widening)."""
    raw = np.asarray(raw, dtype=np.int64)
    sh = from_frac - to_frac
    if sh <= 0:
        return raw << np.int64(-sh)
    if rounding == "rnd":
        raw = raw + (np.int64(1) << np.int64(sh - 1))
    elif rounding == "rne":  # half - 1, plus one more when the floor is odd: ties go to even
        raw = raw + ((np.int64(1) << np.int64(sh - 1)) - 1) + ((raw >> np.int64(sh)) & 1)
    return raw >> np.int64(sh)  # arithmetic shift: floor


def overflow(raw, t: FixedType) -> np.ndarray:
    raw = np.asarray(raw, dtype=np.int64)
    if t.overflow == "sat":
        return np.clip(raw, t.raw_min, t.raw_max)
    if t.width == 64:
        return raw
    mask = np.int64((1 << t.width) - 1)
    low = raw & mask
    return np.where(low > t.raw_max, low - np.int64(1 << t.width), low)


def cast(raw, from_frac: int, t: FixedType) -> np.ndarray:
    """ap_fixed assignment: the value raw * 2**-from_frac stored into type t."""
    return overflow(shift_round(raw, from_frac, t.frac, t.rounding), t)


def from_float(x, t: FixedType) -> np.ndarray:
    """Quantize real values into t (exact scaling by 2**F, then t's rounding and overflow)."""
    scaled = np.ldexp(np.asarray(x, dtype=np.float64), t.frac)
    q = {"rnd": lambda v: np.floor(v + 0.5), "rne": np.round, "trn": np.floor}[t.rounding](scaled)
    lim = float(1 << 63)
    q = np.clip(q, -lim, lim - 1024)  # keep the int64 conversion defined; overflow() does the rest
    return overflow(q.astype(np.int64), t)


def to_float(raw, t: FixedType) -> np.ndarray:
    return np.ldexp(np.asarray(raw, dtype=np.int64).astype(np.float64), -t.frac)


def act_bounds(t: FixedType, act_min, act_max) -> tuple[int, int]:
    """A fused clamp [act_min, act_max] (real units, None = open) as raw bounds in t's grid."""
    lo, hi = t.raw_min, t.raw_max
    if act_min is not None and act_min != -np.inf:
        lo = max(lo, min(hi, int(np.ceil(np.ldexp(float(act_min), t.frac)))))
    if act_max is not None and act_max != np.inf:
        hi = min(hi, max(lo, int(np.floor(np.ldexp(float(act_max), t.frac)))))
    return lo, hi


def bits_for_sum(width: int, terms: int) -> int:
    """Width that holds a sum of `terms` signed values of `width` bits without overflow."""
    return width + max(0, int(terms - 1).bit_length())


# -- what the op classes share: the accumulator of a MAC layer and its requantization -----------
def tensor_type(g, name: str) -> FixedType:
    t = g.tensors[name]
    if "fixed" not in t.meta:
        raise ValueError(f"tensor {name} has no fixed-point type")
    return t.meta["fixed"]


def mac_params(g, node, terms: int) -> dict:
    """Accumulator of sum(x * w) + b over `terms` products: F = Fx + Fw, wide enough for every
    term and the bias (bound: Wx + Ww + ceil(log2(terms + 1)) bits), so it never overflows."""
    from ..errors import McuforgeError
    x, w, o = (tensor_type(g, n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
    # per-channel power-of-two weight scales (sub-byte FPGA layers, quant/subbyte.py): channel c's
    # products are summed on the raw weights and the sum is shifted left by weight_shift[c] (exact)
    w_shift = node.attrs.get("weight_shift")
    w_shift = np.asarray(w_shift, np.int64) if w_shift else None
    extra = int(w_shift.max()) if w_shift is not None else 0
    acc_width = bits_for_sum(x.width + w.width + extra, terms + 1)
    b = g.tensors[node.inputs[2]].meta.get("fixed") if len(node.inputs) > 2 and node.inputs[2] else None
    if b is not None and b.width > acc_width:  # a bias wider than the products' sum: room for both
        acc_width = b.width + 1
    if acc_width > MAX_WIDTH:
        raise McuforgeError(
            f"{node.op} {node.name}: accumulator needs {acc_width} bits (input {x.width} + weight "
            f"{w.width} + log2 of {terms} terms), over the {MAX_WIDTH}-bit limit; use narrower types")
    lo, hi = act_bounds(o, node.attrs.get("act_min"), node.attrs.get("act_max"))
    return {"acc_frac": x.frac + w.frac, "acc_width": acc_width, "out": o, "act_lo": lo, "act_hi": hi,
            "w_shift": w_shift}


def shift_products(acc, p: dict) -> np.ndarray:
    """The products' sum of each output channel (last axis) shifted left by its weight_shift (the
    channel's power-of-two scale relative to the layer's finest), before the bias is added."""
    acc = np.asarray(acc, dtype=np.int64)
    return acc if p.get("w_shift") is None else acc << p["w_shift"]


def requantize(acc, p: dict) -> np.ndarray:
    """Accumulator -> output type (rounding, overflow), then the fused activation clamp."""
    return np.clip(cast(acc, p["acc_frac"], p["out"]), p["act_lo"], p["act_hi"])


# -- hardswish in the fixed contract: x * relu6(x + 3) / 6, rounded exactly ------------------------
# The rule, once for every backend (PyTorch emulation, golden, C, HLS, Verilog): the exact rational
# value x * clamp(x + 3, 0, 6) / 6 cast to the output type with its rounding and overflow, i.e. what
# a float hardswish followed by a QONNX Quant computes. In integers:
#   1. x (raw, F_x fractional bits) moves to F1 = max(F_x, 0) bits (x1, a left shift), so 3 and 6 are
#      integers on its grid: t = clamp(x1 + 3 * 2^F1, 0, 6 * 2^F1); x1 * t is exact at 2 * F1.
#   2. n = x1 * t * 2^(E - 2 F1 - 1) with E = max(2 F1 + 1, F_out + 1): then value * 2^E = n / 3.
#   3. q = floor(n / 3) and the sticky bit s = (n mod 3 != 0); z = 2 q + s at E + 1 fractional bits
#      rounds like n / 3 at E (the dropped third is strictly between 0 and 1 exactly when s is 1, and
#      the cast drops at least one more bit), so y = cast(z, E + 1, out) is the exactly rounded value.
# floor(n / 3) is a division by a constant: hardware computes it as a multiply by ceil(2^S / 3) and
# a shift (hardswish_div3 below, exact for the bounded n).


def hardswish_params(x: FixedType, out: FixedType) -> dict:
    """Integer constants of the hardswish rule for input type x and output type out; `n_width` is the
    signed width of n (|x1| <= 2^(Wx-1+up), 0 <= t <= 6 * 2^F1 < 2^(F1+3))."""
    f1 = max(x.frac, 0)
    up = f1 - x.frac
    e = max(2 * f1 + 1, out.frac + 1)
    n_shift = e - 2 * f1 - 1
    return {"up": up, "three": 3 << f1, "six": 6 << f1, "n_shift": n_shift,
            "n_width": (x.width + up) + (f1 + 3) + n_shift, "z_frac": e + 1, "out": out}


def hardswish_div3(n_width: int) -> dict:
    """floor(n / 3) for any signed n of n_width bits as ((n + 3 * 2^B) * m >> s) - 2^B with B = n_width - 1:
    the offset makes the operand u non-negative and below 2^(B+2), and m = ceil(2^s / 3) with
    s = B + 4 satisfies 3m - 2^s <= 2^(s - (B+2)) (Granlund and Montgomery), so the quotient is exact."""
    b = n_width - 1
    s = b + 4
    return {"b": b, "s": s, "m": -(-(1 << s) // 3), "u_width": b + 2}


def hardswish(raw, p: dict) -> np.ndarray:
    x1 = np.asarray(raw, dtype=np.int64) << np.int64(p["up"])
    t = np.clip(x1 + p["three"], 0, p["six"])
    n = (x1 * t) << np.int64(p["n_shift"])
    q = n // 3  # floor
    return cast(2 * q + (n != 3 * q), p["z_frac"], p["out"])
