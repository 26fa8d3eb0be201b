"""Optimized kernel variants (DSP SIMD, Helium, tuned portable C) and their compile-time preparation.

Every variant is bit-exact with the portable kernel it replaces (and so with the golden model);
`accepts` states when its preconditions hold (e.g. accumulator bounds that its requantization
relies on), otherwise the layer keeps the portable kernel. Registration order matters: the last
registered variant of a kernel is tried first, so the most specialized (MVE) comes last.

Prepared constants (see runtime_c/include/mcf_opt.h):
  - the input zero point is folded into the bias (raw int8 inputs, padding filled with the zp);
  - DSP: per channel {2 * bias', multiplier, rcz, e}, weights doubled to int16 and reordered;
  - MVE: per channel {bias', multiplier, left shift, -right shift}, int8 weights padded/reordered.
"""
from __future__ import annotations

import numpy as np

from .kernel_select import Variant, register_variant

DSP = frozenset({"dsp"})
MVE = frozenset({"mve"})
ACC_FAST_LIMIT = (1 << 30) - 1


def _ceil(x: int, m: int) -> int:
    return (x + m - 1) // m * m


# ---- shared preparation -------------------------------------------------------------------------

def folded_bias(w: np.ndarray, bias, in_zp: int) -> np.ndarray:
    """bias - in_zp * sum(w) per output channel (int64)."""
    cout = w.shape[0]
    b = np.zeros(cout, np.int64) if bias is None else np.asarray(bias, np.int64)
    return b - int(in_zp) * w.astype(np.int64).reshape(cout, -1).sum(axis=1)


def acc_bound(w: np.ndarray, bias, in_zp: int) -> int:
    """Worst-case |accumulator| of any partial sum with raw int8 inputs and the folded bias."""
    cout = w.shape[0]
    sabs = np.abs(w.astype(np.int64)).reshape(cout, -1).sum(axis=1)
    fb = np.abs(folded_bias(w, bias, in_zp))
    return int((fb + 128 * sabs).max(initial=0))


def dsp_requant_ok(consts: dict, in_zp: int) -> bool:
    """Preconditions of mcf_dsp_requant: |acc| < 2^30, multipliers >= 0, 1 <= -shift <= 22."""
    shift = np.asarray(consts["shift"], np.int64)
    mult = np.asarray(consts["mult"], np.int64)
    return bool(((-shift >= 1) & (-shift <= 22)).all() and (mult >= 0).all()
                and acc_bound(consts["weights"], consts["bias"], in_zp) <= ACC_FAST_LIMIT)


def dsp_quant(consts: dict, in_zp: int, out_zp: int) -> np.ndarray:
    """{2 * bias', multiplier, rcz, e} per channel."""
    fb = folded_bias(consts["weights"], consts["bias"], in_zp)
    e = -np.asarray(consts["shift"], np.int64)
    rcz = (1 << (e - 1)) + int(out_zp) * (1 << e)
    q = np.stack([2 * fb, np.asarray(consts["mult"], np.int64), rcz, e], axis=1)
    return q.astype(np.int32).reshape(-1)


def sxtb16_order(w: np.ndarray) -> np.ndarray:
    """Reorder the last axis (a multiple of 4) in groups of 4 as (w0, w2, w1, w3)."""
    shape = w.shape
    g = w.reshape(shape[:-1] + (shape[-1] // 4, 4))[..., [0, 2, 1, 3]]
    return g.reshape(shape)


def interleave_pairs(wk: np.ndarray, group: int) -> np.ndarray:
    """[C][K] -> channel pairs interleaved per `group` of K: [C/2][K/group][2][group], then the
    odd last channel as [K/group][group]; flattened."""
    c, k = wk.shape
    parts = []
    pairs = c // 2
    if pairs:
        p = wk[:2 * pairs].reshape(pairs, 2, k // group, group).transpose(0, 2, 1, 3)
        parts.append(p.reshape(-1))
    if c % 2:
        parts.append(wk[-1].reshape(-1))
    return np.concatenate(parts)


def conv_segments(win: dict) -> tuple[int, int]:
    """(segment length, number of segments) of a convolution patch: contiguous input bytes."""
    if win["dil_w"] == 1:
        return win["k_w"] * win["in_c"], win["k_h"]
    return win["in_c"], win["k_h"] * win["k_w"]


def segmented_weights(w: np.ndarray, win: dict, mult: int) -> tuple[np.ndarray, int]:
    """Weights [C][k_h][k_w][in_c] -> [C][K4], each segment zero-padded to a multiple of `mult`."""
    L, n_seg = conv_segments(win)
    L4 = _ceil(L, mult)
    c = w.shape[0]
    ws = np.zeros((c, n_seg, L4), np.int64)
    ws[:, :, :L] = w.astype(np.int64).reshape(c, n_seg, L)
    return ws.reshape(c, n_seg * L4), n_seg * L4


def fast_quant(consts: dict, in_zp: int, out_zp: int) -> np.ndarray:
    """Per channel {bias', m, rcz, e} (mcf_opt.h) where the 32-bit requantization is exact for that
    channel (|acc| < 2^30, m >= 0, 1 <= e <= 22), else {bias', 0, 0, 0} (reference requantization)."""
    w = consts["weights"]
    cout = w.shape[0]
    fb = folded_bias(w, consts["bias"], in_zp)
    sabs = np.abs(w.astype(np.int64)).reshape(cout, -1).sum(axis=1)
    bound = np.abs(fb) + 128 * sabs
    mult = np.asarray(consts["mult"], np.int64)
    e = -np.asarray(consts["shift"], np.int64)
    ok = (bound <= ACC_FAST_LIMIT) & (mult >= 0) & (e >= 1) & (e <= 22)
    rcz = np.where(ok, (1 << np.clip(e - 1, 0, 30)) + int(out_zp) * (1 << np.clip(e, 0, 30)), 0)
    q = np.stack([fb, np.where(ok, mult, 0), rcz, np.where(ok, e, 0)], axis=1)
    return q.astype(np.int32).reshape(-1)


# ---- Cortex-M0 / M3 (and any C99 target): tuned portable C ---------------------------------------
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


# ---- Cortex-M4 / M7 / M33: DSP extension ------------------------------------------------------

def _dsp_conv_accepts(params: dict) -> bool:
    return params["groups"] == 1 and dsp_requant_ok(params["consts"], params["rq"]["in_zp"])


def _dsp_conv_prepare(params: dict, consts: dict) -> dict:
    win = params["win"]
    wk, k4 = segmented_weights(consts["weights"], win, 4)
    wk = sxtb16_order(2 * wk)
    L, _ = conv_segments(win)
    params["scratch_bytes"] = 4 * k4 + _ceil(L, 4) + 8
    params["drop"] = ["weights"]
    return {"packed_weights": ("int16_t", interleave_pairs(wk, 4).astype(np.int16)),
            "packed_quant": ("int32_t", dsp_quant(consts, params["rq"]["in_zp"], params["rq"]["out_zp"]))}


def _dsp_conv_lean_prepare(params: dict, consts: dict) -> dict:
    out = _dsp_conv_prepare(params, consts)
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


def fc_window(params: dict) -> dict:
    """A fully connected layer as a 1x1 convolution over `rows` pixels."""
    return {"batch": 1, "in_h": 1, "in_w": params["rows"], "in_c": params["in_features"], "out_h": 1,
            "out_w": params["rows"], "out_c": params["out_features"], "k_h": 1, "k_w": 1, "stride_h": 1,
            "stride_w": 1, "dil_h": 1, "dil_w": 1, "pad_top": 0, "pad_left": 0}


def _dsp_fc_accepts(params: dict) -> bool:
    return dsp_requant_ok(params["consts"], params["rq"]["in_zp"])


def _dsp_fc_prepare(params: dict, consts: dict) -> dict:
    conv_params = dict(params, win=fc_window(params), groups=1)
    out = _dsp_conv_prepare(conv_params, consts)
    params["scratch_bytes"] = conv_params["scratch_bytes"]
    params["drop"] = conv_params["drop"]
    return out


def _dsp_fc_lean_prepare(params: dict, consts: dict) -> dict:
    out = _dsp_fc_prepare(params, consts)
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


register_variant("mcf_maxpool_s8", Variant(
    function="mcf_maxpool_s8_dsp", sources=("mcf_maxpool_s8_dsp.c",), requires=DSP))


# ---- Cortex-M55: Helium (MVE) ------------------------------------------------------------------

def mve_quant(consts: dict, in_zp: int) -> np.ndarray:
    """Folded biases [C], then per channel pair 16 words: left shifts, multipliers, fix-up masks
    (-1 where there is a right shift), negated right shifts, for the lanes (c0, c1, c0, c1)."""
    fb = folded_bias(consts["weights"], consts["bias"], in_zp)
    mult = np.asarray(consts["mult"], np.int64)
    shift = np.asarray(consts["shift"], np.int64)
    left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
    parts = [fb]
    for c in range(0, len(mult) - 1, 2):
        lanes = [c, c + 1, c, c + 1]
        parts += [left[lanes], mult[lanes], np.where(right[lanes] > 0, -1, 0), -right[lanes]]
    return np.concatenate(parts).astype(np.int32)


def _mve_conv_accepts(params: dict) -> bool:
    return params["groups"] == 1 and (np.asarray(params["consts"]["mult"]) >= 0).all()


def _mve_conv_prepare(params: dict, consts: dict) -> dict:
    win = params["win"]
    k = win["k_h"] * win["k_w"] * win["in_c"]
    params["scratch_bytes"] = 2 * _ceil(k, 16) + 16
    params["drop"] = ["weights"]
    return {"packed_weights": ("int8_t", mve_weights4x16(consts["weights"])),
            "packed_quant": ("int32_t", mve_quant4(consts, params["rq"]["in_zp"]))}


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
    left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
    parts = [np.concatenate([fb, np.zeros(c4 - c, np.int64)])]
    for g in range(0, c4, 4):
        s = slice(g, g + 4)
        parts += [left[s], mult[s], np.where(right[s] > 0, -1, 0), -right[s]]
    return np.concatenate(parts).astype(np.int32)


def _mve_dw_accepts(params: dict) -> bool:
    return (np.asarray(params["consts"]["mult"]) >= 0).all()


def _mve_dw_prepare(params: dict, consts: dict) -> dict:
    fb = folded_bias(consts["weights"], consts["bias"], params["rq"]["in_zp"])
    shift = np.asarray(consts["shift"], np.int64)
    q = np.stack([fb, np.maximum(shift, 0), np.asarray(consts["mult"], np.int64), -np.maximum(-shift, 0)], axis=1)
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


def _mve_fc_accepts(params: dict) -> bool:
    return (np.asarray(params["consts"]["mult"]) >= 0).all()


def _mve_fc_prepare(params: dict, consts: dict) -> dict:
    return {"packed_quant": ("int32_t", mve_quant4(consts, params["rq"]["in_zp"]))}


register_variant("mcf_fully_connected_s8", Variant(
    function="mcf_fully_connected_s8_mve", sources=("mcf_fully_connected_s8_mve.c",), requires=MVE,
    accepts=_mve_fc_accepts, prepare=_mve_fc_prepare))
