"""Convolutions (groups 1) with int4 / ternary weights on cores without SIMD (Cortex-M0 / M3):
mcf_conv2d_s8_w{4,2}_pair (runtime_c/include/mcf_subbyte_pair.h: mcf_conv2d_sub_pair), the fully
connected `_pair` loop (fast_subbyte_fc.py) run per output pixel over its patch.

Flash: the fully connected layout of the weights flattened to [out_c, k_h k_w in_c], zero-padded to
kp (a multiple of a word's fields); the bias folded for that kp. The patch (kp bytes of scratch) is
gathered per pixel; a 1x1 window without padding whose in_c is whole words reads the input in place
(no scratch). Tried before `_fast` and taken where its modelled cost (codegen/c/cost.py:
pair_conv_per_mac, per MAC of the layer's k) is below `_fast`'s (fast_conv_per_mac)."""
from __future__ import annotations

import numpy as np

from ..cost import fast_conv_per_mac, pair_conv_per_mac
from .dsp_subbyte import _fast_acc_ok
from .fast_subbyte_fc import insert_before_fast, pair_bias, pair_layout


def _geometry(params: dict) -> tuple[int, int, bool]:
    """(k, kp, direct) of a layer: its patch length, rounded up to a word's fields, and whether it
    reads the pixels in place."""
    win, n = params["win"], 32 // params["weight_bits"]
    k = win["k_h"] * win["k_w"] * win["in_c"]
    kp = -(-k // n) * n
    direct = win["k_h"] == 1 and win["k_w"] == 1 and win["pad_top"] == 0 and win["pad_left"] == 0 and kp == k
    return k, kp, direct


def _padded(consts: dict, kp: int) -> dict:
    w = np.asarray(consts["weights"], np.int64)
    w = w.reshape(w.shape[0], -1)
    return dict(consts, weights=np.pad(w, ((0, 0), (0, kp - w.shape[1]))))


def _accepts(params: dict) -> bool:
    if params.get("groups", 1) != 1 or not _fast_acc_ok(params):
        return False
    bits = params["weight_bits"]
    k, kp, direct = _geometry(params)
    if pair_conv_per_mac(bits, kp, params["win"]["out_c"], direct) * kp / k >= fast_conv_per_mac(k):
        return False
    b = pair_bias(_padded(params["consts"], kp), params["rq"]["in_zp"], bits)
    return bool(np.abs(b).max() < 2 ** 31 - 2 ** 20) if b.size else True


def _prepare(params: dict, consts: dict) -> dict:
    bits = params["weight_bits"]
    _, kp, direct = _geometry(params)
    padded = _padded(consts, kp)
    params["has_bias"] = True
    params["scratch_bytes"] = 0 if direct else kp + 3      # the patch, aligned to a word in C
    return {"weights": ("uint8_t", pair_layout(padded["weights"], bits)),
            "bias": ("int32_t", pair_bias(padded, params["rq"]["in_zp"], bits).astype(np.int32))}


for _bits in (4, 2):
    insert_before_fast(f"mcf_conv2d_s8_w{_bits}", _accepts, _prepare)
