"""Cortex-M0 / M3 (and any C99 target): tuned portable C elementwise int8 add. Registered right
after fast.py, before the DSP and Helium modules, so that those are tried first on their cores."""
from __future__ import annotations

from ..kernel_select import Variant, register_variant

Q30 = 1 << 30


def _fast_add_accepts(params: dict) -> bool:
    """Preconditions of mcf_add_s8_fast.c: same shapes, add (broadcasting and subtraction stay on
    the portable kernel), TFLite's left shift of 20, input multipliers >= 0 with right shifts only
    (a zero shift only with the multiplier 2^30), output multiplier >= 0 with 1 <= -shift <= 22
    (the output zero point is added before the shift)."""
    p = params["p"]
    if not params["bc"]["same_shape"] or params["subtract"]:
        return False
    if p["left_shift"] != 20 or p["out_mult"] < 0 or not 1 <= -p["out_shift"] <= 22:
        return False
    for m, s in ((p["in1_mult"], p["in1_shift"]), (p["in2_mult"], p["in2_shift"])):
        if m < 0 or s > 0 or -s > 31 or (s == 0 and m != Q30):
            return False
    return True


register_variant("mcf_add_s8", Variant(
    function="mcf_add_s8_fast", sources=("mcf_add_s8_fast.c",), accepts=_fast_add_accepts))
