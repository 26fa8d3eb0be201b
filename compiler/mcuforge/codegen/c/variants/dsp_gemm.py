"""Cortex-M4 / M7 / M33 DSP extension: convolution and fully connected as an SMLAD GEMM."""
from __future__ import annotations

import numpy as np

from ..kernel_select import Variant, register_variant
from .shared import DSP, _ceil, conv_segments, dsp_quant, dsp_requant_ok, interleave_pairs, segmented_weights, sxtb16_order


def _dsp_conv_accepts(params: dict) -> bool:
    return params["groups"] == 1 and dsp_requant_ok(params["consts"], params["rq"]["in_zp"])


def pair_quant(q: np.ndarray) -> np.ndarray:
    """{b, m, rcz, e} per channel -> per channel pair {b0, b1, m0, rcz0, e0, m1, rcz1, e1} (the
    pair loop of mcf_conv2d_s8_dsp.c loads both biases with one LDM and, after a pair, the next
    pair's), the odd last channel unchanged, then 2 zero words that the last pair's LDM reads."""
    q = q.reshape(-1, 4)
    pairs = q.shape[0] // 2
    p = q[:2 * pairs].reshape(pairs, 2, 4)
    body = np.concatenate([p[:, :, 0], p[:, 0, 1:], p[:, 1, 1:]], axis=1).reshape(-1)
    return np.concatenate([body, q[2 * pairs:].reshape(-1), np.zeros(2, q.dtype)])


def _dsp_conv_prepare(params: dict, consts: dict, pair_layout: bool = True) -> dict:
    win = params["win"]
    wk, k4 = segmented_weights(consts["weights"], win, 4)
    wk = sxtb16_order(2 * wk)
    L, _ = conv_segments(win)
    params["scratch_bytes"] = 4 * k4 + _ceil(L, 4) + 8
    params["drop"] = ["weights"]
    q = dsp_quant(consts, params["rq"]["in_zp"], params["rq"]["out_zp"])
    return {"packed_weights": ("int16_t", interleave_pairs(wk, 4).astype(np.int16)),
            "packed_quant": ("int32_t", pair_quant(q) if pair_layout else q)}


def _dsp_conv_lean_prepare(params: dict, consts: dict) -> dict:
    out = _dsp_conv_prepare(params, consts, pair_layout=False)
    _, k4 = segmented_weights(consts["weights"], params["win"], 4)
    params["scratch_bytes"] = k4         # one int8 patch (mcf_conv2d_s8_dsp_lean.c)
    return out


# registered before the DSP kernel, so tried after it: only a layer whose DSP scratch sets the
# arena's peak gets it (codegen/c/lean.py passes over the faster variant)
register_variant("mcf_conv2d_s8", Variant(
    function="mcf_conv2d_s8_dsp_lean", sources=("mcf_conv2d_s8_dsp_lean.c",), requires=DSP,
    accepts=_dsp_conv_accepts, prepare=_dsp_conv_lean_prepare))

register_variant("mcf_conv2d_s8", Variant(
    function="mcf_conv2d_s8_dsp", sources=("mcf_conv2d_s8_dsp.c",), requires=DSP,
    accepts=_dsp_conv_accepts, prepare=_dsp_conv_prepare))



def fc_window(params: dict) -> dict:
    """A fully connected layer as a 1x1 convolution over `rows` pixels."""
    return {"batch": 1, "in_h": 1, "in_w": params["rows"], "in_c": params["in_features"], "out_h": 1,
            "out_w": params["rows"], "out_c": params["out_features"], "k_h": 1, "k_w": 1, "stride_h": 1,
            "stride_w": 1, "dil_h": 1, "dil_w": 1, "pad_top": 0, "pad_left": 0}


def _dsp_fc_accepts(params: dict) -> bool:
    return dsp_requant_ok(params["consts"], params["rq"]["in_zp"])


def _dsp_fc_prepare(params: dict, consts: dict, pair_layout: bool = True) -> dict:
    conv_params = dict(params, win=fc_window(params), groups=1)
    out = _dsp_conv_prepare(conv_params, consts, pair_layout)
    params["scratch_bytes"] = conv_params["scratch_bytes"]
    params["drop"] = conv_params["drop"]
    return out


def _dsp_fc_lean_prepare(params: dict, consts: dict) -> dict:
    out = _dsp_fc_prepare(params, consts, pair_layout=False)
    params["scratch_bytes"] = _ceil(params["in_features"], 4)    # one int8 row
    return out


# tried after the DSP kernel, like the lean convolution
register_variant("mcf_fully_connected_s8", Variant(
    function="mcf_fully_connected_s8_dsp_lean",
    sources=("mcf_fully_connected_s8_dsp_lean.c", "mcf_conv2d_s8_dsp_lean.c"),
    requires=DSP, accepts=_dsp_fc_accepts, prepare=_dsp_fc_lean_prepare))

register_variant("mcf_fully_connected_s8", Variant(
    function="mcf_fully_connected_s8_dsp", sources=("mcf_fully_connected_s8_dsp.c", "mcf_conv2d_s8_dsp.c"),
    requires=DSP, accepts=_dsp_fc_accepts, prepare=_dsp_fc_prepare))


