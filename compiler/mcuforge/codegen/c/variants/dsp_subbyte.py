"""Optimized sub-byte weight kernels. Cortex-M4 / M7 / M33 DSP extension: convolution (groups 1)
and fully connected layers with int4 or ternary weights (runtime_c/include/mcf_subbyte_dsp.h);
tuned portable C for depthwise (runtime_c/include/mcf_subbyte_ref.h), any core.

The weights stay packed in flash: each channel's row is zero-padded to a whole number of 32-bit
words (32 / bits weights) and its fields reordered so that one masked shift and an SXTB16 give
the SMLAD operand of an input pair; the scratch holds four int16 patches."""
from __future__ import annotations

import numpy as np

from ..kernel_select import Variant, register_variant
from .shared import DSP


def dsp_word_layout(w: np.ndarray, bits: int) -> np.ndarray:
    """Weights [C][...] (values of the grid) -> uint8 bytes, per channel kp * bits / 8 of them: in
    each word, input pair j = 2 f + r has w[2j] in byte r and w[2j+1] in byte r + 2, field f."""
    c = w.shape[0]
    wk = np.asarray(w, np.int64).reshape(c, -1)
    per = 32 // bits
    k = wk.shape[1]
    kp = -(-k // per) * per
    rows = np.zeros((c, kp), np.int64)
    rows[:, :k] = wk
    words = rows.reshape(c, kp // per, per) & ((1 << bits) - 1)
    out = np.zeros((c, kp // per, 4), np.int64)
    for j in range(per // 2):
        f, r = divmod(j, 2)
        out[:, :, r] |= words[:, :, 2 * j] << (f * bits)
        out[:, :, r + 2] |= words[:, :, 2 * j + 1] << (f * bits)
    return out.astype(np.uint8).reshape(-1)


def _k(params: dict) -> int:
    if "win" in params:
        win = params["win"]
        return win["k_h"] * win["k_w"] * win["in_c"]
    return params["in_features"]


def _accepts(params: dict) -> bool:
    """Groups 1; the scaled SMLAD sums fit int32 (2^(8-bits) * 255 * sum |w| < 2^31); and
    mcf_dsp_requant's preconditions (|bias| + 255 * sum |w| < 2^30, multipliers >= 0,
    1 <= -shift <= 22)."""
    if params.get("groups", 1) != 1:
        return False
    bits = params["weight_bits"]
    consts = params["consts"]
    w = np.asarray(consts["weights"], np.int64)
    sabs = np.abs(w.reshape(w.shape[0], -1)).sum(axis=1)
    bias = np.zeros(w.shape[0], np.int64) if consts["bias"] is None else np.abs(np.asarray(consts["bias"], np.int64))
    e = -np.asarray(consts["shift"], np.int64)
    return bool((sabs * 255 * (1 << (8 - bits)) < 2 ** 31).all() and (bias + 255 * sabs < 2 ** 30).all()
                and (np.asarray(consts["mult"]) >= 0).all() and ((e >= 1) & (e <= 22)).all())


def _prepare(params: dict, consts: dict) -> dict:
    bits = params["weight_bits"]
    per = 32 // bits
    kp = -(-_k(params) // per) * per
    params["scratch_bytes"] = 8 * kp          # four int16 patches
    return {"weights": ("uint8_t", dsp_word_layout(consts["weights"], bits))}



# -- tuned portable C --------------------------------------------------------------------------------
def _fast_acc_ok(params: dict) -> bool:
    """mcf_sub_out_fast's bound: |bias| + 255 * sum |w| < 2^29 for every channel."""
    consts = params["consts"]
    w = np.asarray(consts["weights"], np.int64)
    sabs = np.abs(w.reshape(w.shape[0], -1)).sum(axis=1)
    bias = 0 if consts["bias"] is None else np.abs(np.asarray(consts["bias"], np.int64))
    return bool((bias + 255 * sabs < 2 ** 29).all())


def _gemm_fast_accepts(params: dict) -> bool:
    return params.get("groups", 1) == 1 and _fast_acc_ok(params)


def _gemm_fast_prepare(params: dict, consts: dict) -> dict:
    params["scratch_bytes"] = 10 * _k(params)       # one int16 weight row, four int16 patches
    return {}


# registered before the DSP variants, so tried after them: cores without the DSP extension
for _bits in (4, 2):
    register_variant(f"mcf_conv2d_s8_w{_bits}", Variant(
        function=f"mcf_conv2d_s8_w{_bits}_fast", sources=(f"mcf_conv2d_s8_w{_bits}_fast.c",),
        accepts=_gemm_fast_accepts, prepare=_gemm_fast_prepare))
    register_variant(f"mcf_fully_connected_s8_w{_bits}", Variant(
        function=f"mcf_fully_connected_s8_w{_bits}_fast", sources=(f"mcf_fully_connected_s8_w{_bits}_fast.c",),
        accepts=_gemm_fast_accepts, prepare=_gemm_fast_prepare))


for _bits in (4, 2):
    register_variant(f"mcf_conv2d_s8_w{_bits}", Variant(
        function=f"mcf_conv2d_s8_w{_bits}_dsp", sources=(f"mcf_conv2d_s8_w{_bits}_dsp.c",), requires=DSP,
        accepts=_accepts, prepare=_prepare))
    register_variant(f"mcf_fully_connected_s8_w{_bits}", Variant(
        function=f"mcf_fully_connected_s8_w{_bits}_dsp", sources=(f"mcf_fully_connected_s8_w{_bits}_dsp.c",),
        requires=DSP, accepts=_accepts, prepare=_prepare))


# -- tuned portable C, any core ------------------------------------------------------------------
DW_MAX_K = 64     # MCF_SUB_DW_MAX_K in mcf_subbyte_ref.h


def _dw_fast_accepts(params: dict) -> bool:
    win = params["win"]
    return win["k_h"] * win["k_w"] <= DW_MAX_K and _fast_acc_ok(params)


def _dw_fast_prepare(params: dict, consts: dict) -> dict:
    # channel by channel: output (p, c) is written before input (p', c) of later pixels is read,
    # so the output must not share bytes with the input
    params["inplace_safe"] = False
    return {}


for _bits in (4, 2):
    register_variant(f"mcf_depthwise_conv2d_s8_w{_bits}", Variant(
        function=f"mcf_depthwise_conv2d_s8_w{_bits}_fast", sources=(f"mcf_depthwise_conv2d_s8_w{_bits}_fast.c",),
        accepts=_dw_fast_accepts, prepare=_dw_fast_prepare))
