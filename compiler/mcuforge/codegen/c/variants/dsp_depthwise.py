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


def doubled_taps(consts: dict, left=None) -> np.ndarray:
    """The weights [out_c][k_h][k_w][1] as int64 [out_c][k_h][k_w] times 2, or times 2^(s+1) with s
    per channel from `left` (left-shift channels, dsp_conv_lsh.py)."""
    w = consts["weights"].astype(np.int64)[..., 0]
    return w * (2 if left is None else (2 << np.asarray(left, np.int64))[:, None, None])


def _dsp_dw_prepare(params: dict, consts: dict, quant=None, left=None) -> dict:
    """quant: the {b, m, rcz, e} words if not dsp_quant's; left: per channel a power of two s
    folded into its taps as 2^(s+1) (dsp_conv_lsh.py; None: 0)."""
    win = params["win"]
    w = doubled_taps(consts, left)                  # [out_c][k_h][k_w]
    c, kh, kw = w.shape[0], w.shape[1], w.shape[2]
    kp = (kw + 1) // 2
    taps = np.zeros((c, kh, 2 * kp), np.int64)
    taps[:, :, :kw] = w
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
            "packed_quant": ("int32_t", _dw_quant(params, consts, quant))}


def _dw_quant(params: dict, consts: dict, quant) -> np.ndarray:
    return dsp_quant(consts, params["rq"]["in_zp"], params["rq"]["out_zp"]) if quant is None else quant


register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_dsp", sources=("mcf_depthwise_conv2d_s8_dsp.c",), requires=DSP,
    accepts=_dsp_dw_accepts, prepare=_dsp_dw_prepare))


# the second plane costs SRAM for ~4% fewer instructions: only where it is small (a big plane, as on
# vww's 48x48 layers, may raise the arena's peak; four planes there grew vww's arena from 42 to 57 KB)
DSP_DW2_MAX_SCRATCH = 8192


def _dsp_dw2_accepts(params: dict, quant_ok=_dsp_dw_accepts) -> bool:
    """Depth multiplier 1 with at least two channels (two channels widened per 16-bit load);
    quant_ok: the requantization's preconditions (dsp_conv_lsh.py: its left-shift form's)."""
    win = params["win"]
    if not win["out_c"] == win["in_c"] >= 2:
        return False
    ph, pw = plane_dims(win)
    return 4 * ph * pw <= DSP_DW2_MAX_SCRATCH and quant_ok(params)


def _dsp_dw2_prepare(params: dict, consts: dict, **lsh) -> dict:
    out = _dsp_dw_prepare(params, consts, **lsh)
    ph, pw = plane_dims(params["win"])
    params["scratch_bytes"] = 2 * 2 * ph * pw + 8   # two planes
    # in place: as the one-plane kernel, output channels c, c + 1 are written only after input
    # channels c, c + 1 of every pixel are in the planes (out_c == in_c: "exact" from prepare)
    return out


# registered after the one-plane kernel, so tried before it
register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_dsp2", sources=("mcf_depthwise_conv2d_s8_dsp.c",), requires=DSP,
    accepts=_dsp_dw2_accepts, prepare=_dsp_dw2_prepare))


# 3x3, depth multiplier 1, dilation 1, horizontal stride 1 or 2: four channels widened per 32-bit
# load into four planes, stride-1 rows in blocks of six outputs (mcf_depthwise_conv2d_s8_dsp3x3.c)
DSP_DW3_MAX_SCRATCH = 8192


def dw3_plane_dims(win: dict) -> tuple[int, int]:
    """Plane rows and (even) columns of the 3x3 kernel, as the C code computes them."""
    ph = (win["out_h"] - 1) * win["stride_h"] + 3
    pw = ((win["out_w"] - 1) * win["stride_w"] + 4 + 1) & ~1
    return ph, pw


def dw3_shape_ok(win: dict) -> bool:
    """The shapes of the 3x3 kernel: 3x3, dilation 1, horizontal stride 1 or 2, multiplier 1."""
    return (win["k_h"] == 3 and win["k_w"] == 3 and win["dil_h"] == 1 and win["dil_w"] == 1
            and win["stride_w"] in (1, 2) and win["out_c"] == win["in_c"])


def _dsp_dw3_fits(params: dict) -> bool:
    return dw3_shape_ok(params["win"]) and _dsp_dw_accepts(params)


# ... and never bigger than the input they widen: on the MNIST example's 28x28x8 input four planes
# would be 7 KB beside 6 KB of input, raising the arena's peak by half for 2 % fewer instructions
DSP_DW3_MAX_INPUT_SHARE = 1.0


def _dsp_dw3_accepts(params: dict) -> bool:
    """Four planes: only where they are small, in bytes and against the layer's input (vww's 48x48
    layers and the MNIST example's first depthwise keep one plane)."""
    return _dsp_dw3_fits(params) and dw3_four_planes_fit(params["win"])


def dw3_four_planes_fit(win: dict) -> bool:
    ph, pw = dw3_plane_dims(win)
    scratch = 4 * 2 * ph * pw
    return scratch <= DSP_DW3_MAX_SCRATCH and scratch <= DSP_DW3_MAX_INPUT_SHARE * win["in_h"] * win["in_w"] * win["in_c"]


def _dsp_dw3_prepare(params: dict, consts: dict, planes: int = 4, quant=None, left=None) -> dict:
    w = doubled_taps(consts, left)                          # [c][3][3]
    c = w.shape[0]
    taps = np.zeros((c, 3, 2, 2), np.int64)                 # per kernel row A = (w0, w1), B = (w1, w2)
    taps[:, :, 0, 0], taps[:, :, 0, 1] = w[:, :, 0], w[:, :, 1]
    taps[:, :, 1, 0], taps[:, :, 1, 1] = w[:, :, 1], w[:, :, 2]
    ph, pw = dw3_plane_dims(params["win"])
    params["scratch_bytes"] = planes * 2 * ph * pw
    # channels c .. c + planes - 1 of every pixel are in the planes before any output byte of them
    # is written, and out_c == in_c: safe over its input exactly at the same offset
    params["inplace_exact"] = True
    params["drop"] = ["weights"]
    return {"packed_weights": ("int16_t", taps.reshape(-1).astype(np.int16)),
            "packed_quant": ("int32_t", _dw_quant(params, consts, quant))}


register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_dsp3x3_1", sources=("mcf_depthwise_conv2d_s8_dsp3x3.c",), requires=DSP,
    accepts=_dsp_dw3_fits, prepare=lambda p, c: _dsp_dw3_prepare(p, c, 1)))

# registered last: tried first where its four planes are small
register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_dsp3x3", sources=("mcf_depthwise_conv2d_s8_dsp3x3.c",), requires=DSP,
    accepts=_dsp_dw3_accepts, prepare=_dsp_dw3_prepare))
