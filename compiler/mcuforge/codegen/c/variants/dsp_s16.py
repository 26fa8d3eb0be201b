"""Cortex-M4 / M7 / M33 DSP extension: TFLite's 16x8 convolution and fully connected layers with
SMLALD (two int16 x int16 products into a 64-bit accumulator per instruction), two output channels at
a time. The int8 weights keep their size; each row (a conv's whole window of K = KH * KW *
Cin/groups values, gathered per output pixel into arena scratch; an FC row) is reordered in
groups of four as (w0, w2, w1, w3) so that SXTB16 unpacks pairs matching the input pairs in
memory (runtime_c/include/mcf_dsp_s16.h). The sum is exact, so the variants accept every layer."""
from __future__ import annotations

import numpy as np

from ..kernel_select import Variant, register_variant
from .shared import DSP


def reorder_runs(w: np.ndarray, run: int) -> np.ndarray:
    """Weights as rows of `run` values; in each row every full group of four becomes (0, 2, 1, 3)."""
    rows = np.ascontiguousarray(w).reshape(-1, run).copy()
    full = run // 4 * 4
    if full:
        g = rows[:, :full].reshape(rows.shape[0], -1, 4)
        rows[:, :full] = g[:, :, [0, 2, 1, 3]].reshape(rows.shape[0], full)
    return rows.reshape(-1)


def _prepare_conv(params: dict, consts: dict) -> dict:
    """Rows of K = KH * KW * Cin/groups (the gathered window's length); scratch for one window."""
    w = consts["weights"]                    # [Cout, KH, KW, Cin / groups]
    k = int(np.prod(w.shape[1:]))
    params["drop"] = ("weights",)
    params["scratch_bytes"] = 2 * k + 4      # int16 window (+ room for the last 32-bit load)
    return {"weights": ("int8_t", reorder_runs(w, k))}


def _prepare_fc(params: dict, consts: dict) -> dict:
    w = consts["weights"]                    # [M, K]
    params["drop"] = ("weights",)
    return {"weights": ("int8_t", reorder_runs(w, w.shape[1]))}


def _depthwise_ok(params: dict) -> bool:
    """Depth multiplier 1 and int32 per-channel sums: 2^15 * sum |w| < 2^31 (SMLABB / SMLATT)."""
    w = params["consts"]["weights"]
    win = params["win"]
    per_channel = np.abs(w.astype(np.int64)).reshape(w.shape[0], -1).sum(axis=1)
    return win["out_c"] == win["in_c"] and int(per_channel.max(initial=0)) << 15 < (1 << 31) - 1


def _prepare_depthwise(params: dict, consts: dict) -> dict:
    """Weights [C, KH, KW, 1] -> [KH * KW, C] as int16: one 32-bit load holds two channels' taps."""
    w = consts["weights"]
    params["drop"] = ("weights",)
    return {"packed_weights": ("int16_t", w.reshape(w.shape[0], -1).T.astype(np.int16).reshape(-1))}


register_variant("mcf_depthwise_conv2d_s16", Variant(
    function="mcf_depthwise_conv2d_s16_dsp", sources=("mcf_depthwise_conv2d_s16_dsp.c",), requires=DSP,
    accepts=_depthwise_ok, prepare=_prepare_depthwise))
register_variant("mcf_conv2d_s16", Variant(
    function="mcf_conv2d_s16_dsp", sources=("mcf_conv2d_s16_dsp.c",), requires=DSP, prepare=_prepare_conv))
register_variant("mcf_fully_connected_s16", Variant(
    function="mcf_fully_connected_s16_dsp", sources=("mcf_fully_connected_s16_dsp.c",), requires=DSP,
    prepare=_prepare_fc))
