"""Cortex-M4 / M7 / M33 DSP extension: pooling."""
from __future__ import annotations

from ..kernel_select import Variant, register_variant
from .shared import DSP


register_variant("mcf_maxpool_s8", Variant(
    function="mcf_maxpool_s8_dsp", sources=("mcf_maxpool_s8_dsp.c",), requires=DSP))


# 16-bit lane sums and exact SMULW reciprocal division need at most 128 cells per window
AVG_MAX_CELLS = 128


def _dsp_avg_accepts(params: dict) -> bool:
    win = params["win"]
    return win["k_h"] * win["k_w"] <= AVG_MAX_CELLS


register_variant("mcf_avgpool_s8", Variant(
    function="mcf_avgpool_s8_dsp", sources=("mcf_avgpool_s8_dsp.c",), requires=DSP, accepts=_dsp_avg_accepts))
