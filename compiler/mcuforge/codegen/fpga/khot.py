"""K-hot weights for the FPGA backends: a layer whose every weight is a sum of at most K signed
powers of two (found from the integers at compile time, whatever trained them) stores K
(sign, shift) terms per weight instead of the weight, and its products become shifts and adds: no
multiplier, hence no DSP.

The terms are the weight's non-adjacent form (NAF): the fewest signed powers of two that sum to
it, so K is the smallest possible for that weight. `KhotCodes` gives both backends the same
encoding:
  - HLS: one small signed integer per term, t = 0 (no term) or +-(shift + 1);
  - RTL: one field of `1 + 1 + shift_bits` bits per term, {present, negative, shift}.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KHOT_MAX = 3  # default: layers whose weights need at most this many terms use shift-add


def naf_terms(v: int) -> list[tuple[int, int]]:
    """(sign, shift) pairs, lowest shift first, with sum(sign << shift) == v and no two adjacent
    shifts (the non-adjacent form: the fewest terms)."""
    v, e, out = int(v), 0, []
    while v:
        if v & 1:
            d = 2 - (v & 3)  # +1 if v = 1 (mod 4), -1 if v = 3 (mod 4)
            out.append((d, e))
            v -= d
        v >>= 1
        e += 1
    return out


def khot_k(raw: np.ndarray) -> int:
    """The largest number of NAF terms over the integers in `raw` (0 for all zeros)."""
    return max((len(naf_terms(v)) for v in np.unique(np.asarray(raw, np.int64))), default=0)


@dataclass
class KhotCodes:
    k: int  # terms per weight
    shift_bits: int  # bits of one term's shift field
    max_shift: int

    @classmethod
    def for_weights(cls, raw: np.ndarray, khot_max: int = KHOT_MAX) -> "KhotCodes | None":
        """The codes of a layer's weights, or None when they need more than `khot_max` terms (or
        khot_max is 0: shift-add off)."""
        k = khot_k(raw)
        if khot_max <= 0 or k == 0 or k > khot_max:
            return None
        top = max(e for v in np.unique(np.asarray(raw, np.int64)) for _, e in naf_terms(v))
        return cls(k, max(1, top.bit_length()), top)

    @property
    def field_bits(self) -> int:
        return self.shift_bits + 2

    @property
    def word_bits(self) -> int:
        return self.k * self.field_bits

    @property
    def term_bits(self) -> int:
        """Width of the HLS signed term +-(shift + 1)."""
        return (self.max_shift + 1).bit_length() + 1

    def terms(self, v: int) -> list[tuple[int, int]]:
        t = naf_terms(v)
        return t + [(0, 0)] * (self.k - len(t))

    def hls_terms(self, raw: np.ndarray) -> np.ndarray:
        """[..., K] signed integers: 0 or sign * (shift + 1)."""
        flat = [s * (e + 1) for v in np.asarray(raw, np.int64).reshape(-1) for s, e in self.terms(v)]
        return np.array(flat, np.int64).reshape(np.asarray(raw).shape + (self.k,))

    def c_bytes(self, raw: np.ndarray) -> np.ndarray:
        """K bytes per weight for the C kernels: 0 or 0x80 | negative << 6 | shift."""
        flat = [0 if s == 0 else 0x80 | ((s < 0) << 6) | e
                for v in np.asarray(raw, np.int64).reshape(-1) for s, e in self.terms(v)]
        return np.array(flat, np.uint8)

    def rtl_word(self, v: int) -> int:
        """The weight's K fields packed, term i in bits [i * field_bits, (i + 1) * field_bits)."""
        word = 0
        for i, (s, e) in enumerate(self.terms(v)):
            field = 0 if s == 0 else (1 << (self.shift_bits + 1)) | ((s < 0) << self.shift_bits) | e
            word |= field << (i * self.field_bits)
        return word

    def decode(self, word: int) -> int:
        """Inverse of rtl_word (used by the tests)."""
        v = 0
        for i in range(self.k):
            f = (word >> (i * self.field_bits)) & ((1 << self.field_bits) - 1)
            if f >> (self.shift_bits + 1):
                e = f & ((1 << self.shift_bits) - 1)  # shift_bits 0 (ternary): always 0
                v += -(1 << e) if (f >> self.shift_bits) & 1 else (1 << e)
        return v

    def describe(self) -> dict:
        return {"k": self.k, "shift_bits": self.shift_bits, "max_shift": self.max_shift}


TERNARY = KhotCodes(1, 0, 0)  # one term, no shift: {present, negative}, the product is +-x or 0


def layer_codes(nodes, raw: np.ndarray, khot_max: int = KHOT_MAX) -> "KhotCodes | None":
    """How the weights of `nodes` (one layer, or a chain sharing lanes) multiply: sub-byte layers
    (quant/fixed.py sets attrs["weight_bits"]) by their width, the others by K-hot detection.
    Ternary {-1, 0, 1} weights are add / subtract (one term, no shift field) whatever khot_max
    says; int4 weights keep a multiplier, with 4-bit weight operands (a 4-bit value would also be
    2-hot: the narrow multiplier is what the sub-byte option asks for)."""
    bits = {n.attrs.get("weight_bits") for n in nodes}
    if bits == {2}:
        return TERNARY
    if bits == {4}:
        return None
    return KhotCodes.for_weights(raw, khot_max)
