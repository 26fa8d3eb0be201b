"""Weight grids below 8 bits, as the sensitivity analysis and the bit allocation see them.

Per output channel (axis 0), symmetric: int8 in [-127, 127] with scale max|w| / 127, int4 in
[-7, 7] with scale max|w| / 7, ternary {-1, 0, +1} with BitNet b1.58's absmean scale mean|w| (or the
median of |w|). Packed storage: two int4 values per byte, four ternary codes per byte, per tensor.
"""
from __future__ import annotations

import numpy as np

from ..errors import McuforgeError

WIDTHS = (8, 4, 2)


def quantize_weight_bits(w: np.ndarray, bits: int, ternary: str = "absmean") -> tuple[np.ndarray, np.ndarray]:
    """(integer weights, per-channel scales) for width 8, 4 or 2 (= ternary)."""
    flat = np.abs(np.asarray(w, np.float64).reshape(w.shape[0], -1))
    if bits in (8, 4):
        qmax = 2 ** (bits - 1) - 1
        scale = flat.max(axis=1) / qmax
    elif bits == 2:
        qmax = 1
        if ternary == "absmean":
            scale = flat.mean(axis=1)
        elif ternary == "median":
            scale = np.median(flat, axis=1)
        else:
            raise McuforgeError(f"ternary scale {ternary!r}: expected absmean or median")
    else:
        raise McuforgeError(f"weight width {bits} is not one of 8, 4, 2")
    scale = np.where(scale > 0, scale, 1.0)
    shape = (-1,) + (1,) * (w.ndim - 1)
    q = np.clip(np.round(w / scale.reshape(shape)), -qmax, qmax).astype(np.int8)
    return q, scale


def fake_quant(w: np.ndarray, bits: int, ternary: str = "absmean") -> np.ndarray:
    q, s = quantize_weight_bits(w, bits, ternary)
    return (q * s.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)


def packed_weight_bytes(shape, bits: int) -> int:
    n = int(np.prod(shape))
    return (n * bits + 7) // 8
