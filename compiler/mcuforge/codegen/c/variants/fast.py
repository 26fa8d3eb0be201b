"""Cortex-M0 / M3 (and any C99 target): tuned portable C variants."""
from __future__ import annotations

import numpy as np

from ..kernel_select import Variant, register_variant
from .shared import _ceil, fast_quant


# Registered first, so that the DSP and Helium variants (registered later) are tried before them.

def _quads(w: np.ndarray) -> np.ndarray:
    """Weights [C][...] -> [C][K4 / 4][4], K zero-padded to a multiple of 4."""
    c = w.shape[0]
    wk = w.astype(np.int64).reshape(c, -1)
    k4 = _ceil(wk.shape[1], 4)
    out = np.zeros((c, k4), np.int64)
    out[:, :wk.shape[1]] = wk
    return out.reshape(c, k4 // 4, 4)


def pairs_ok(w: np.ndarray) -> bool:
    """The packed pair (X W + 2^15) >> 16 is exact unless both weights of a pair are -128
    (mcf_conv2d_s8_fast.c); the pairs are (k, k + 2) within each group of four."""
    g = _quads(w)
    return not bool((((g[..., 0] == -128) & (g[..., 2] == -128)) | ((g[..., 1] == -128) & (g[..., 3] == -128))).any())


def packed_pairs(w: np.ndarray) -> np.ndarray:
    """Weights -> words W = c + d 2^16 per input pair (x0, x2), (x1, x3) of each group of four:
    (d, c) = (w0, w2), then (w1, w3). Output channels in blocks of four, interleaved per word:
    [C / 4][K4 / 2][4], then the last C % 4 channels one after another as [K4 / 2]."""
    g = _quads(w)
    c = g.shape[0]
    words = (g[..., [2, 3]] + g[..., [0, 1]] * 65536).reshape(c, -1)
    nb = c // 4
    blocks = words[:4 * nb].reshape(nb, 4, words.shape[1]).transpose(0, 2, 1).reshape(-1)
    flat = np.concatenate([blocks, words[4 * nb:].reshape(-1)])
    return ((flat + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


def _gemm_prepare(params: dict, consts: dict, k: int) -> dict:
    params["scratch_bytes"] = 3 * _ceil(k, 4)    # int8 patch + its packed words
    params["drop"] = ["weights"]
    return {"packed_weights": ("int32_t", packed_pairs(consts["weights"])),
            "packed_quant": ("int32_t", fast_quant(consts, params["rq"]["in_zp"], params["rq"]["out_zp"]))}


def _fast_conv_accepts(params: dict) -> bool:
    return params["groups"] == 1 and pairs_ok(params["consts"]["weights"])


def _fast_conv_prepare(params: dict, consts: dict) -> dict:
    win = params["win"]
    return _gemm_prepare(params, consts, win["k_h"] * win["k_w"] * win["in_c"])


register_variant("mcf_conv2d_s8", Variant(
    function="mcf_conv2d_s8_fast", sources=("mcf_conv2d_s8_fast.c",),
    accepts=_fast_conv_accepts, prepare=_fast_conv_prepare))


def _fast_fc_accepts(params: dict) -> bool:
    return pairs_ok(params["consts"]["weights"])


def _fast_fc_prepare(params: dict, consts: dict) -> dict:
    return _gemm_prepare(params, consts, params["in_features"])


register_variant("mcf_fully_connected_s8", Variant(
    function="mcf_fully_connected_s8_fast", sources=("mcf_fully_connected_s8_fast.c", "mcf_conv2d_s8_fast.c"),
    accepts=_fast_fc_accepts, prepare=_fast_fc_prepare))


def _fast_dw_prepare(params: dict, consts: dict) -> dict:
    # int32 weights: one load with an immediate offset per tap also on ARMv6-M
    params["drop"] = ["weights"]
    return {"packed_weights": ("int32_t", np.asarray(consts["weights"], np.int32).reshape(-1)),
            "packed_quant": ("int32_t", fast_quant(consts, params["rq"]["in_zp"], params["rq"]["out_zp"]))}


register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_depthwise_conv2d_s8_fast", sources=("mcf_depthwise_conv2d_s8_fast.c",),
    prepare=_fast_dw_prepare))


def _fast_dw_as_conv_accepts(params: dict) -> bool:
    return params["win"]["in_c"] == 1 and pairs_ok(params["consts"]["weights"])


# A "depthwise" layer with one input channel (e.g. a first layer, kws_dscnn's 10x4 conv on the
# spectrogram) is an ordinary convolution: weights [out_c][k_h][k_w][1] are the convolution's
# layout, the argument struct is the same, and the packed-pair GEMM shares each gathered patch
# among all output channels. Registered after the depthwise variant, so tried before it.
register_variant("mcf_depthwise_conv2d_s8", Variant(
    function="mcf_conv2d_s8_fast", sources=("mcf_conv2d_s8_fast.c",),
    accepts=_fast_dw_as_conv_accepts, prepare=_fast_conv_prepare))
