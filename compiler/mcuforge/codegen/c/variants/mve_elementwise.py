"""Cortex-M55 Helium (MVE) variants: elementwise int8 add."""
from __future__ import annotations

from ..kernel_select import Variant, register_variant
from .dsp_elementwise import add_accepts
from .shared import MVE


def _mve_add_accepts(params: dict) -> bool:
    # VRSHL shifts by up to 31 bits and the zero point is added afterwards
    return add_accepts(params, max_out_right_shift=31)


register_variant("mcf_add_s8", Variant(
    function="mcf_add_s8_mve", sources=("mcf_add_s8_mve.c",), requires=MVE, accepts=_mve_add_accepts))
