"""Cortex-M4 / M7 / M33 DSP extension: int8 batched matrix product of two variable tensors
(mcf_matmul_s8_dsp.c: B's columns and A's rows widened to int16 in arena scratch, SMLAD)."""
from __future__ import annotations

from ..kernel_select import Variant, register_variant
from .shared import DSP


def _prepare(params: dict, consts: dict) -> dict:
    k2 = params["k"] + (params["k"] & 1)
    params["scratch_bytes"] = 2 * (params["n"] + 1) * k2
    return {}


register_variant("mcf_matmul_s8", Variant(
    function="mcf_matmul_s8_dsp", sources=("mcf_matmul_s8_dsp.c",), requires=DSP, prepare=_prepare))
