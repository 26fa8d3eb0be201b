"""Cortex-M4 / M7 / M33 DSP extension: convolution and fully connected as an SMLAD GEMM."""
from __future__ import annotations

import numpy as np

from ....reference.arith import multiply_by_quantized_multiplier
from ..kernel_select import Variant, register_variant
from .shared import DSP, _ceil, conv_segments, dsp_quant, dsp_requant_ok, interleave_pairs, segmented_weights, sxtb16_order


def dead_channels(consts: dict, rq: dict) -> tuple[dict, np.ndarray, np.ndarray]:
    """Output channels whose weights are all zero (pruned ones; vww_mbv1_96 has them with biases
    of +-2^30 and shifts up to -31, which the 32-bit requantization cannot take) output one constant:
    (consts with those channels' bias 0, multiplier 0 and shift -1, which pass dsp_requant_ok,
    mask of the dead channels, their int8 outputs by the golden model's arithmetic)."""
    w = consts["weights"]
    c = w.shape[0]
    dead = ~w.reshape(c, -1).any(axis=1)
    if not dead.any():
        return consts, dead, np.zeros(0, np.int64)
    bias = np.zeros(c, np.int64) if consts["bias"] is None else np.asarray(consts["bias"], np.int64)
    y = multiply_by_quantized_multiplier(bias[dead], np.asarray(consts["mult"], np.int64)[dead],
                                         np.asarray(consts["shift"], np.int64)[dead]) + int(rq["out_zp"])
    y = np.clip(y, rq["act_min"], rq["act_max"])
    live = dict(consts, bias=np.where(dead, 0, bias), mult=np.where(dead, 0, consts["mult"]),
                shift=np.where(dead, -1, consts["shift"]))
    return live, dead, y


def dsp_gemm_quant(consts: dict, rq: dict) -> np.ndarray:
    """{2 * bias', m, rcz, e} per channel (mcf_opt.h); a dead channel gets {0, 0, 2 y, 1}: its
    accumulator stays 0 and SMMLAR(0, 0, rcz) >> 1 = y."""
    live, dead, y = dead_channels(consts, rq)
    q = dsp_quant(live, rq["in_zp"], rq["out_zp"]).reshape(-1, 4)
    q[dead, 2] = 2 * y
    return q.reshape(-1)


def _dsp_gemm_ok(params: dict) -> bool:
    live, _, _ = dead_channels(params["consts"], params["rq"])
    return dsp_requant_ok(live, params["rq"]["in_zp"])


def _dsp_conv_accepts(params: dict) -> bool:
    return params["groups"] == 1 and _dsp_gemm_ok(params)


def pair_quant(q: np.ndarray) -> np.ndarray:
    """{b, m, rcz, e} per channel -> per channel pair {b0, b1, m0, rcz0, e0, m1, rcz1, e1} (the
    pair loop of mcf_conv2d_s8_dsp.c loads both biases with one LDM and, after a pair, the next
    pair's), the odd last channel unchanged, then 2 zero words that the last pair's LDM reads."""
    q = q.reshape(-1, 4)
    pairs = q.shape[0] // 2
    p = q[:2 * pairs].reshape(pairs, 2, 4)
    body = np.concatenate([p[:, :, 0], p[:, 0, 1:], p[:, 1, 1:]], axis=1).reshape(-1)
    return np.concatenate([body, q[2 * pairs:].reshape(-1), np.zeros(2, q.dtype)])


def _dsp_conv_prepare(params: dict, consts: dict, pair_layout: bool = True, quant=None, left=None) -> dict:
    """quant: the {b, m, rcz, e} words if not dsp_gemm_quant's; left: per channel a power of two s
    folded into its doubled weights as 2^(s+1) (dsp_fc_lsh.py; None: 0)."""
    win = params["win"]
    wk, k4 = segmented_weights(consts["weights"], win, 4)
    wk = sxtb16_order(2 * wk if left is None else wk * (2 << np.asarray(left, np.int64))[:, None])
    L, _ = conv_segments(win)
    params["scratch_bytes"] = 4 * k4 + _ceil(L, 4) + 8
    params["drop"] = ["weights"]
    q = dsp_gemm_quant(consts, params["rq"]) if quant is None else quant
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
    return _dsp_gemm_ok(params)


def _dsp_fc_prepare(params: dict, consts: dict, pair_layout: bool = True, **lsh) -> dict:
    conv_params = dict(params, win=fc_window(params), groups=1)
    out = _dsp_conv_prepare(conv_params, consts, pair_layout, **lsh)
    params["scratch_bytes"] = conv_params["scratch_bytes"]
    params["drop"] = conv_params["drop"]
    return out


def _dsp_fc_lean_prepare(params: dict, consts: dict) -> dict:
    out = _dsp_fc_prepare(params, consts, pair_layout=False)
    params["scratch_bytes"] = _ceil(params["in_features"], 4)    # one int8 row
    return out


def interleave_quads(wk: np.ndarray, group: int) -> np.ndarray:
    """[C][K] -> groups of 4 channels interleaved per `group` of K: [C/4][K/group][4][group], then
    a leftover pair and an odd last channel as interleave_pairs lays them out; flattened."""
    c, k = wk.shape
    quads = c // 4
    q = wk[:4 * quads].reshape(quads, 4, k // group, group).transpose(0, 2, 1, 3).reshape(-1)
    return np.concatenate([q, interleave_pairs(wk[4 * quads:], group)]) if c % 4 else q


def _dsp_fc_row_accepts(params: dict) -> bool:
    return params["in_features"] % 4 == 0 and _dsp_gemm_ok(params)


def _dsp_fc_row_prepare(params: dict, consts: dict) -> dict:
    """mcf_fully_connected_s8_dsp_row: no scratch, the DSP kernel's doubled int16 weights in SXTB16
    order regrouped by 4 channels, {2 * bias', m, rcz, e} per channel."""
    wk = sxtb16_order(2 * np.asarray(consts["weights"], np.int64).reshape(params["out_features"], -1))
    params["scratch_bytes"] = 0
    params["drop"] = ["weights"]
    return {"packed_weights": ("int16_t", interleave_quads(wk, 4).astype(np.int16)),
            "packed_quant": ("int32_t", dsp_gemm_quant(consts, params["rq"]))}


# tried after the DSP kernel, like the lean convolution
register_variant("mcf_fully_connected_s8", Variant(
    function="mcf_fully_connected_s8_dsp_lean",
    sources=("mcf_fully_connected_s8_dsp_lean.c", "mcf_conv2d_s8_dsp_lean.c"),
    requires=DSP, accepts=_dsp_fc_accepts, prepare=_dsp_fc_lean_prepare))

# tried after the DSP kernel and before the lean one: no scratch at all, 13 instead of 12
# instructions per 16 MACs (mcf_fully_connected_s8_dsp_row.c)
register_variant("mcf_fully_connected_s8", Variant(
    function="mcf_fully_connected_s8_dsp_row", sources=("mcf_fully_connected_s8_dsp_row.c",),
    requires=DSP, accepts=_dsp_fc_row_accepts, prepare=_dsp_fc_row_prepare))

register_variant("mcf_fully_connected_s8", Variant(
    function="mcf_fully_connected_s8_dsp", sources=("mcf_fully_connected_s8_dsp.c", "mcf_conv2d_s8_dsp.c"),
    requires=DSP, accepts=_dsp_fc_accepts, prepare=_dsp_fc_prepare))


