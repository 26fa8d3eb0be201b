"""Cortex-M4 / M7 / M33 DSP extension: depthwise convolution over widened int16 planes."""
from __future__ import annotations

import numpy as np

from ..kernel_select import Variant, register_variant
from .shared import DSP, dsp_quant, dsp_requant_ok


def _dsp_dw_accepts(params: dict) -> bool:
    return dsp_requant_ok(params["consts"], params["rq"]["in_zp"])


def plane_dims(win: dict) -> tuple[int, int]:
    ph = (win["out_h"] - 1) * win["stride_h"] + (win["k_h"] - 1) * win["dil_h"] + 1
    pw = (win["out_w"] - 1) * win["stride_w"] + (win["k_w"] - 1) * win["dil_w"] + 1 + 2
    return ph, pw


def _dsp_dw_prepare(params: dict, consts: dict) -> dict:
    win = params["win"]
    w = consts["weights"].astype(np.int64)          # [out_c][k_h][k_w][1]
    c, kh, kw = w.shape[0], w.shape[1], w.shape[2]
    kp = (kw + 1) // 2
    taps = np.zeros((c, kh, 2 * kp), np.int64)
    taps[:, :, :kw] = 2 * w[..., 0]
    ph, pw = plane_dims(win)
    params["scratch_bytes"] = 2 * ph * pw + 8
    # channel by channel: it widens all of input channel c into the plane, then writes output
    # channel c of every pixel. With one output channel per input channel and the output starting
    # exactly at the input, each byte written is channel c of some pixel, already in the plane, so
    # that overlap is safe; any other overlap can hit a later channel's unread bytes
    win = params["win"]
    if win["out_c"] == win["in_c"]:
        params["inplace_exact"] = True
    else:
        params["inplace_safe"] = False
    params["drop"] = ["weights"]
    return {"packed_weights": ("int16_t", taps.reshape(-1).astype(np.int16)),
            "packed_quant": ("int32_t", dsp_quant(consts, params["rq"]["in_zp"], params["rq"]["out_zp"]))}


register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_dsp", sources=("mcf_depthwise_conv2d_s8_dsp.c",), requires=DSP,
    accepts=_dsp_dw_accepts, prepare=_dsp_dw_prepare))


# the second plane costs SRAM for ~4% fewer instructions: only where it is small (a big plane, as on
# vww's 48x48 layers, may raise the arena's peak; four planes there grew vww's arena from 42 to 57 KB)
DSP_DW2_MAX_SCRATCH = 8192


def _dsp_dw2_accepts(params: dict) -> bool:
    """Depth multiplier 1 with at least two channels (two channels widened per 16-bit load)."""
    win = params["win"]
    if not win["out_c"] == win["in_c"] >= 2:
        return False
    ph, pw = plane_dims(win)
    return 4 * ph * pw <= DSP_DW2_MAX_SCRATCH and _dsp_dw_accepts(params)


def _dsp_dw2_prepare(params: dict, consts: dict) -> dict:
    out = _dsp_dw_prepare(params, consts)
    ph, pw = plane_dims(params["win"])
    params["scratch_bytes"] = 2 * 2 * ph * pw + 8   # two planes
    # in place: as the one-plane kernel, output channels c, c + 1 are written only after input
    # channels c, c + 1 of every pixel are in the planes (out_c == in_c: "exact" from prepare)
    return out


# registered after the one-plane kernel, so tried before it
register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_dsp2", sources=("mcf_depthwise_conv2d_s8_dsp.c",), requires=DSP,
    accepts=_dsp_dw2_accepts, prepare=_dsp_dw2_prepare))
