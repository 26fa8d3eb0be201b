"""Cortex-M4 / M7 / M33 DSP extension: elementwise int8 add."""
from __future__ import annotations

from ..kernel_select import Variant, register_variant
from .shared import DSP

Q30 = 1 << 30


def add_exact_ok(p: dict, max_out_right_shift: int) -> bool:
    """Preconditions of the 32-bit add kernels (mcf_add_s8_dsp.c / _mve.c): TFLite's left shift of
    20, input multipliers >= 0 with right shifts only (a zero shift only with the multiplier 2^30,
    the input of the larger scale), output multiplier >= 0 with a right shift of at least 1 bit
    (DSP: at most 22, so that the output zero point can be added before the shift)."""
    if p["left_shift"] != 20 or p["out_mult"] < 0 or not 1 <= -p["out_shift"] <= max_out_right_shift:
        return False
    for m, s in ((p["in1_mult"], p["in1_shift"]), (p["in2_mult"], p["in2_shift"])):
        if m < 0 or s > 0 or -s > 31 or (s == 0 and m != Q30):
            return False
    return True


def add_accepts(params: dict, max_out_right_shift: int = 22) -> bool:
    """Same-shape add only: broadcasting and subtraction stay on the portable kernel."""
    return (bool(params["bc"]["same_shape"]) and not params["subtract"]
            and add_exact_ok(params["p"], max_out_right_shift))


register_variant("mcf_add_s8", Variant(
    function="mcf_add_s8_dsp", sources=("mcf_add_s8_dsp.c",), requires=DSP, accepts=add_accepts))
