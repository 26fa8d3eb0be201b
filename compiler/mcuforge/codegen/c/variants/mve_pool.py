"""Cortex-M55 Helium (MVE) variants: pooling."""
from __future__ import annotations

from ..kernel_select import Variant, register_variant
from .shared import MVE

# int16 lane sums (and the -1 of a negative sum) stay in range up to 255 cells per window
AVG_MAX_CELLS = 255


def _mve_avg_accepts(params: dict) -> bool:
    win = params["win"]
    return win["k_h"] * win["k_w"] <= AVG_MAX_CELLS


register_variant("mcf_maxpool_s8", Variant(
    function="mcf_maxpool_s8_mve", sources=("mcf_maxpool_s8_mve.c",), requires=MVE))
register_variant("mcf_avgpool_s8", Variant(
    function="mcf_avgpool_s8_mve", sources=("mcf_avgpool_s8_mve.c",), requires=MVE, accepts=_mve_avg_accepts))
