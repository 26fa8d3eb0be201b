"""Resize and transposed convolution variants: nearest resize as 32-bit word copies (any core,
pixels a multiple of 4 bytes); on the DSP extension (Cortex-M4 / M7 / M33) transposed
convolution with SMLAD over four input channels, two output channels at a time, and
mcf_dsp_requant with per-channel constants prepared here."""
from __future__ import annotations

import numpy as np

from ..kernel_select import Variant, register_variant
from .shared import ACC_FAST_LIMIT, DSP


def _accepts(params: dict) -> bool:
    """Channels per group a multiple of 4; mcf_dsp_requant's preconditions: 1 <= -shift <= 22,
    multipliers >= 0 and |acc| < 2^30 for acc = sum((x - zp) * w) + bias, |x - zp| <= 255."""
    win, consts = params["win"], params["consts"]
    if (win["in_c"] // params["groups"]) % 4:
        return False
    e = -np.asarray(consts["shift"], np.int64)
    w = consts["weights"]
    bias = np.zeros(w.shape[0], np.int64) if consts["bias"] is None else np.asarray(consts["bias"], np.int64)
    bound = 255 * np.abs(w.astype(np.int64)).reshape(w.shape[0], -1).sum(axis=1) + np.abs(bias)
    return bool(((e >= 1) & (e <= 22)).all() and (np.asarray(consts["mult"]) >= 0).all()
                and bound.max(initial=0) <= ACC_FAST_LIMIT)


def _prepare(params: dict, consts: dict) -> dict:
    """{bias, multiplier, rcz = 2^(e-1) + out_zp * 2^e, e} per output channel."""
    w = consts["weights"]
    cout = w.shape[0]
    bias = np.zeros(cout, np.int64) if consts["bias"] is None else np.asarray(consts["bias"], np.int64)
    e = -np.asarray(consts["shift"], np.int64)
    rcz = (1 << (e - 1)) + int(params["rq"]["out_zp"]) * (1 << e)
    q = np.stack([bias, np.asarray(consts["mult"], np.int64), rcz, e], axis=1)
    return {"packed_quant": ("int32_t", q.astype(np.int32).reshape(-1))}


register_variant("mcf_conv_transpose2d_s8", Variant(
    function="mcf_conv_transpose2d_s8_dsp", sources=("mcf_conv_transpose2d_s8_dsp.c",), requires=DSP,
    accepts=_accepts, prepare=_prepare))


register_variant("mcf_resize_nearest", Variant(
    function="mcf_resize_nearest_fast", sources=("mcf_resize_nearest_fast.c",),
    accepts=lambda params: params["pixel_bytes"] % 4 == 0))
