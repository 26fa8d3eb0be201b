"""Cortex-M0 / M3 (and any C99 target): tuned portable C pooling. Registered right after fast.py,
before the DSP and Helium modules, so that those are tried first on their cores."""
from __future__ import annotations

from ..kernel_select import Variant, register_variant

# 16-bit lane sums and the exact (n m) >> 22 reciprocal division need at most 128 cells per window
AVG_MAX_CELLS = 128


def _fast_avg_accepts(params: dict) -> bool:
    win = params["win"]
    return win["k_h"] * win["k_w"] <= AVG_MAX_CELLS


register_variant("mcf_maxpool_s8", Variant(
    function="mcf_maxpool_s8_fast", sources=("mcf_maxpool_s8_fast.c",)))

register_variant("mcf_avgpool_s8", Variant(
    function="mcf_avgpool_s8_fast", sources=("mcf_avgpool_s8_fast.c",), accepts=_fast_avg_accepts))
