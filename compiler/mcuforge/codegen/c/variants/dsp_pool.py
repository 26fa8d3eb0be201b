"""Cortex-M4 / M7 / M33 DSP extension: pooling."""
from __future__ import annotations

from ..kernel_select import Variant, register_variant
from .shared import DSP


register_variant("mcf_maxpool_s8", Variant(
    function="mcf_maxpool_s8_dsp", sources=("mcf_maxpool_s8_dsp.c",), requires=DSP))
