"""Exact constants for the emitted C++: a raw fixed-point value as the decimal literal of the same
double, which every ap_fixed implementation converts without rounding."""
from __future__ import annotations

import numpy as np

from ...errors import McuforgeError
from ...reference.fixed_arith import FixedType

EXACT_BITS = 53  # a double's mantissa


def exact_literal(raw: int, frac: int) -> str:
    if abs(int(raw)) >= (1 << EXACT_BITS):
        raise McuforgeError(f"constant {raw} * 2^-{frac} needs more than {EXACT_BITS} bits; the HLS "
                            "project writes constants as exact double literals")
    return repr(float(np.ldexp(float(raw), -frac)))


def literal_list(raw: np.ndarray, t: FixedType, per_line: int = 12) -> str:
    items = [exact_literal(int(v), t.frac) for v in np.asarray(raw).reshape(-1)]
    return ",\n    ".join(", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line))


def ap_fixed_type(t: FixedType) -> str:
    q = {"rnd": "AP_RND", "rne": "AP_RND_CONV", "trn": "AP_TRN"}[t.rounding]
    o = "AP_SAT" if t.overflow == "sat" else "AP_WRAP"
    return f"ap_fixed<{t.width}, {t.int_bits}, {q}, {o}>"


def accum_type(width: int, frac: int) -> str:
    """Wide enough by construction (reference/fixed_arith.mac_params), so never rounds or wraps."""
    return f"ap_fixed<{width}, {width - frac}>"
