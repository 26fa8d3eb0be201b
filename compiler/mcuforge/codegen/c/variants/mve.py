"""Cortex-M55 Helium (MVE) variants: convolution, depthwise, fully connected."""
from __future__ import annotations

import numpy as np

from ....reference.arith import rounding_mode
from ..kernel_select import Variant, register_variant
from .shared import MVE, _ceil, acc_bound, folded_bias


def mve_shifts(shift) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per channel (left shift, right shift, fix-up mask) that the Helium kernels apply around
    their high multiply (runtime_c/include/mcf_mve_requant.h): TFLite's own shifts and a mask of
    -1 where there is a right shift (double rounding), or with requant="single" (VMULH, no fix-up)
    left + k and right + k - 1 with k = max(0, 2 - right), so that every right shift is >= 1."""
    shift = np.asarray(shift, np.int64)
    left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
    if rounding_mode() == "single":
        k = np.maximum(0, 2 - right)
        return left + k, right + k - 1, np.zeros_like(right)
    return left, right, np.where(right > 0, -1, 0)


def mve_mode(shift) -> int:
    """The kernels' mode word: 1 = some channel shifts left, 2 = some needs the fix-up mask."""
    left, right, mask = mve_shifts(shift)
    return int((left > 0).any()) | 2 * int(((mask == 0) & (rounding_mode() != "single")).any())


def mve_accepts(consts: dict, in_zp: int) -> bool:
    """Multipliers >= 0; with single rounding the left-shifted accumulator must fit in int32."""
    if (np.asarray(consts["mult"]) < 0).any():
        return False
    left, _, _ = mve_shifts(consts["shift"])
    return not left.any() or acc_bound(consts["weights"], consts["bias"], in_zp) << int(left.max()) < (1 << 31)


def _mve_conv_accepts(params: dict) -> bool:
    return params["groups"] == 1 and mve_accepts(params["consts"], params["rq"]["in_zp"])


def _mve_conv_prepare(params: dict, consts: dict) -> dict:
    win = params["win"]
    k = win["k_h"] * win["k_w"] * win["in_c"]
    params["scratch_bytes"] = 2 * _ceil(k, 16) + 16
    params["drop"] = ["weights"]
    return {"packed_weights": ("int8_t", mve_weights4x16(consts["weights"])),
            "packed_quant": ("int32_t", mve_quant_conv(consts, params["rq"]["in_zp"]))}


def mve_quant_conv(consts: dict, in_zp: int) -> np.ndarray:
    """Constants of mcf_conv2d_s8_mve: 4 header words (mode: 1 = some channel has a left shift,
    2 = some channel has no right shift, so the rounding fix-up needs a mask), then per group of
    4 channels (rounded up, zero padded) 4 words each of: folded biases, left shifts (mode 1 only),
    multipliers, fix-up masks (-1 where there is a right shift; mode 2 only), negated right shifts.
    Leaving out what every channel agrees on saves its load and instructions in every block."""
    q4 = mve_quant4(consts, in_zp)
    c = len(consts["mult"])
    c4 = _ceil(c, 4)
    bias = q4[:c4].reshape(-1, 1, 4)
    left, mult, mask, right = (q4[c4:].reshape(-1, 4, 4)[:, i:i + 1] for i in range(4))
    mode = mve_mode(consts["shift"])
    parts = [bias] + ([left] if mode & 1 else []) + [mult] + ([mask] if mode & 2 else []) + [right]
    head = np.array([mode, 0, 0, 0], np.int32)
    return np.concatenate([head, np.concatenate(parts, axis=1).reshape(-1).astype(np.int32)])


def mve_weights4x16(w: np.ndarray) -> np.ndarray:
    """[C][K] int8 -> [C4 / 4][K16 / 16][4][16], zero padded (C4, K16: C, K rounded up to 4, 16)."""
    c = w.shape[0]
    wk = np.asarray(w, np.int64).reshape(c, -1)
    k = wk.shape[1]
    c4, k16 = _ceil(c, 4), _ceil(k, 16)
    out = np.zeros((c4, k16), np.int64)
    out[:c, :k] = wk
    return out.reshape(c4 // 4, 4, k16 // 16, 16).transpose(0, 2, 1, 3).reshape(-1).astype(np.int8)


register_variant("mcf_conv2d_s8", Variant(
    function="mcf_conv2d_s8_mve", sources=("mcf_conv2d_s8_mve.c",), requires=MVE,
    accepts=_mve_conv_accepts, prepare=_mve_conv_prepare))


def mve_quant4(consts: dict, in_zp: int, fb: np.ndarray | None = None) -> np.ndarray:
    """Folded biases (channels rounded up to 4, zero padded), then per group of 4 channels 16 words:
    left shifts, multipliers, fix-up masks (-1 where there is a right shift), negated right shifts."""
    if fb is None:
        fb = folded_bias(consts["weights"], consts["bias"], in_zp)
    c = len(fb)
    c4 = _ceil(c, 4)
    mult = np.zeros(c4, np.int64)
    shift = np.zeros(c4, np.int64)
    mult[:c] = np.asarray(consts["mult"], np.int64)
    shift[:c] = np.asarray(consts["shift"], np.int64)
    left, right, mask = mve_shifts(shift)
    parts = [np.concatenate([fb, np.zeros(c4 - c, np.int64)])]
    for g in range(0, c4, 4):
        s = slice(g, g + 4)
        parts += [left[s], mult[s], mask[s], -right[s]]
    return np.concatenate(parts).astype(np.int32)


def _mve_dw_accepts(params: dict) -> bool:
    return mve_accepts(params["consts"], params["rq"]["in_zp"])


def _mve_dw_prepare(params: dict, consts: dict) -> dict:
    fb = folded_bias(consts["weights"], consts["bias"], params["rq"]["in_zp"])
    left, right, _ = mve_shifts(consts["shift"])
    q = np.stack([fb, left, np.asarray(consts["mult"], np.int64), -right], axis=1)
    # 4 pixels x all channels at a time, not pixel by pixel: its output must not overlap its input
    params["inplace_safe"] = False
    # then a row of in_c input zero points (bytes, little endian), read by taps in the padding
    win = params["win"]
    zp_row = np.full(_ceil(win["in_c"], 4), int(params["rq"]["in_zp"]) & 0xFF, np.uint32).reshape(-1, 4)
    zp_words = (zp_row[:, 0] | zp_row[:, 1] << 8 | zp_row[:, 2] << 16 | zp_row[:, 3] << 24).view(np.int32)
    params["scratch_bytes"] = 16 * win["k_h"] * win["k_w"] + 16    # offset vectors of the taps
    return {"packed_quant": ("int32_t", np.concatenate([q.reshape(-1).astype(np.int32), zp_words]))}


register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_mve", sources=("mcf_depthwise_conv2d_s8_mve.c",), requires=MVE,
    accepts=_mve_dw_accepts, prepare=_mve_dw_prepare))


def _mve_dwc_accepts(params: dict) -> bool:
    win = params["win"]
    return win["out_c"] == win["in_c"] and _mve_dw_accepts(params)


def _mve_dwc_prepare(params: dict, consts: dict) -> dict:
    """mcf_depthwise_conv2d_s8_mve_ch (depth multiplier 1, channels in vector lanes): weights
    [C4 / 4][taps][4]; constants: a mode word (1: some channel shifts left, 2: some channel has no
    right shift) and 3 padding words, mve_quant4, then C4 bytes of the input zero point (read by
    padding columns)."""
    win = params["win"]
    c, taps = win["in_c"], win["k_h"] * win["k_w"]
    c4 = _ceil(c, 4)
    wt = np.zeros((c4, taps), np.int64)
    wt[:c] = np.asarray(consts["weights"], np.int64).reshape(c, taps)
    wt = wt.reshape(c4 // 4, 4, taps).transpose(0, 2, 1)        # [group][tap][4 channels]
    zp = np.full((c4 // 4, 4), int(params["rq"]["in_zp"]) & 0xFF, np.uint32)
    zp_words = (zp[:, 0] | zp[:, 1] << 8 | zp[:, 2] << 16 | zp[:, 3] << 24).view(np.int32)
    head = np.array([mve_mode(consts["shift"]), 0, 0, 0], np.int32)
    # a block's stores precede reads of other channels of its windows
    params["inplace_safe"] = False
    cols = 3 * win["stride_w"] + (win["k_w"] - 1) * win["dil_w"] + 1
    params["scratch_bytes"] = 4 * win["k_h"] * cols + 16     # column table, 16-byte aligned
    params["drop"] = ["weights"]
    return {"packed_weights": ("int8_t", wt.reshape(-1).astype(np.int8)),
            "packed_quant": ("int32_t", np.concatenate([head, mve_quant4(consts, params["rq"]["in_zp"]), zp_words]))}


register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_mve_ch", sources=("mcf_depthwise_conv2d_s8_mve_ch.c",), requires=MVE,
    accepts=_mve_dwc_accepts, prepare=_mve_dwc_prepare))


def _mve_dw1_accepts(params: dict) -> bool:
    win = params["win"]
    return win["in_c"] == 1 and win["out_c"] > 1 and _mve_dw_accepts(params)


def _mve_dw1_prepare(params: dict, consts: dict) -> dict:
    """mcf_depthwise_conv2d_s8_mve1 (one input channel, output channels in vector lanes): weights
    [taps][C4]; constants: mode word and 3 padding words, then mve_quant4."""
    win = params["win"]
    c, taps = win["out_c"], win["k_h"] * win["k_w"]
    wt = np.zeros((taps, _ceil(c, 4)), np.int64)
    wt[:, :c] = np.asarray(consts["weights"], np.int64).reshape(c, taps).T
    head = np.array([mve_mode(consts["shift"]), 0, 0, 0], np.int32)
    # the outputs (out_c bytes per pixel) run ahead of the input (1 byte per pixel)
    params["inplace_safe"] = False
    params["scratch_bytes"] = taps          # the window's input values
    params["drop"] = ["weights"]
    return {"packed_weights": ("int8_t", wt.reshape(-1).astype(np.int8)),
            "packed_quant": ("int32_t", np.concatenate([head, mve_quant4(consts, params["rq"]["in_zp"])]))}


register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_mve1", sources=("mcf_depthwise_conv2d_s8_mve1.c",), requires=MVE,
    accepts=_mve_dw1_accepts, prepare=_mve_dw1_prepare))


def _mve_fc_accepts(params: dict) -> bool:
    return mve_accepts(params["consts"], params["rq"]["in_zp"])


def _mve_fc_prepare(params: dict, consts: dict) -> dict:
    params["drop"] = ["weights"]
    return {"packed_weights": ("int8_t", mve_weights4x16(consts["weights"])),
            "packed_quant": ("int32_t", mve_quant4(consts, params["rq"]["in_zp"]))}


register_variant("mcf_fully_connected_s8", Variant(
    function="mcf_fully_connected_s8_mve", sources=("mcf_fully_connected_s8_mve.c",), requires=MVE,
    accepts=_mve_fc_accepts, prepare=_mve_fc_prepare))
