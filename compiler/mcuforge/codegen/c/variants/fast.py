"""Cortex-M0 / M3 (and any C99 target): tuned portable C variants."""
from __future__ import annotations

from ..kernel_select import Variant, register_variant
from .shared import _ceil, fast_quant


# Registered first, so that the DSP and Helium variants (registered later) are tried before them.

def _fast_conv_accepts(params: dict) -> bool:
    return params["groups"] == 1


def _fast_conv_prepare(params: dict, consts: dict) -> dict:
    win = params["win"]
    k = win["k_h"] * win["k_w"] * win["in_c"]
    params["scratch_bytes"] = 2 * _ceil(k, 4) + 8
    return {"packed_quant": ("int32_t", fast_quant(consts, params["rq"]["in_zp"], params["rq"]["out_zp"]))}


register_variant("mcf_conv2d_s8", Variant(
    function="mcf_conv2d_s8_fast", sources=("mcf_conv2d_s8_fast.c",),
    accepts=_fast_conv_accepts, prepare=_fast_conv_prepare))


def _fast_fc_prepare(params: dict, consts: dict) -> dict:
    k = params["in_features"]
    params["scratch_bytes"] = 2 * _ceil(k, 4) + 8
    return {"packed_quant": ("int32_t", fast_quant(consts, params["rq"]["in_zp"], params["rq"]["out_zp"]))}


register_variant("mcf_fully_connected_s8", Variant(
    function="mcf_fully_connected_s8_fast", sources=("mcf_fully_connected_s8_fast.c", "mcf_conv2d_s8_fast.c"),
    prepare=_fast_fc_prepare))


def _fast_dw_prepare(params: dict, consts: dict) -> dict:
    return {"packed_quant": ("int32_t", fast_quant(consts, params["rq"]["in_zp"], params["rq"]["out_zp"]))}


register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_fast", sources=("mcf_depthwise_conv2d_s8_fast.c",),
    prepare=_fast_dw_prepare))
